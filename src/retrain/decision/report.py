"""`retrain report`: the pull-request report (GitHub-flavoured Markdown) that CML posts.

`render` is pure: it takes the decision that `retrain compare` wrote and a `Context` of what else a reviewer needs
(params and data changes against the base, validation, drift, the trigger). The top fits on one screen; detail goes
in `<details>` blocks. Images are PNGs beside the report, linked by relative path, so `cml comment --publish`
uploads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from retrain import cost as costs
from retrain import plots
from retrain.domain import Words, load_domain
from retrain.io import files, vcs
from retrain.params import Params
from retrain.results import Check, Cost, Decision, DriftResult, MonitorVerdict, Shadow, Tuning, Validation

FIGURES = {
    "roc": "roc.png",
    "pr": "pr.png",
    "confusion": "confusion.png",
    "calibration": "calibration.png",
    "by_period": "by_period.png",
    "tuning_history": "tuning_history.png",
    "tuning_importance": "tuning_importance.png",
}
METRIC_NAMES = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "log_loss": "log loss (lower is better)",
    "brier": "Brier score (lower is better)",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
}
EVENTS = {
    "workflow_dispatch": "manual dispatch",
    "schedule": "scheduled retrain",
    "push": "data push",
    "repository_dispatch": "monitoring event",
}


@dataclass(frozen=True)
class Context:
    base: str
    words: Words = field(default_factory=Words)
    period: str = "period"
    params_diff: list[tuple[str, Any, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    validation: Validation | None = None
    drift: DriftResult | None = None
    trigger: str = "local run"
    shadow: Shadow | None = None
    tuning: Tuning | None = None
    cost: Cost | None = None


# --- gathering the context (reads files; everything below `render` is pure) ---------------------------------


def params_diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Every params.yaml key whose value differs, as (key, before, after); None where a key is absent."""
    old, new = files.flatten(before or {}), files.flatten(after)
    return [
        (key, old.get(key), new.get(key)) for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)
    ]


def run_url(env: Mapping[str, str]) -> str | None:
    """The link to the GitHub Actions run, from the workflow's environment."""
    if all(env.get(key) for key in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")):
        return f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return None


def trigger(env: Mapping[str, str]) -> str:
    """Who or what started this run, from the workflow's environment."""
    event = env.get("GITHUB_EVENT_NAME")
    reason = env.get("RETRAIN_REASON", "").strip()
    if not event:
        text = f"local run by {env.get('USER', 'someone')}"
    else:
        text = EVENTS.get(event, event)
        if env.get("GITHUB_ACTOR"):
            text += f" by @{env['GITHUB_ACTOR']}"
        url = run_url(env)
        if url:
            text += f" ([run {env['GITHUB_RUN_ID']}]({url}))"
    return text + (f": {reason}" if reason else "")


def gather(params: Params, root: Path, base: str, env: Mapping[str, str]) -> Context:
    """Everything the report shows besides the decision, read from the working tree and from `base`."""
    paths, base = params.paths, vcs.resolve(root, base)
    before_params = yaml.safe_load(vcs.show(root, base, "params.yaml") or "null")
    after_params = yaml.safe_load((root / "params.yaml").read_text())
    current = {p.name.removesuffix(".dvc"): _md5(p.read_text()) for p in paths.landing.glob("*.parquet.dvc")}
    # the batches the champion was trained on: those committed with the dvc.lock that names it, by content
    trained = vcs.last_change(root, base, "dvc.lock") or base
    previous = {
        name.removesuffix(".dvc"): _md5(vcs.show(root, trained, paths.landing / name) or "")
        for name in vcs.files(root, trained, paths.landing)
        if name.endswith(".dvc")
    }
    data = {
        "added": sorted(set(current) - set(previous)),
        "removed": sorted(set(previous) - set(current)),
        "changed": sorted(name for name in set(current) & set(previous) if current[name] != previous[name]),
        "batches": sorted(current),
        "now": files.read_json(paths.data_metrics),
        "before": json.loads(vcs.show(root, base, paths.data_metrics) or "null"),
    }
    validation = Validation.read(paths.validation) if paths.validation.exists() else None
    drift = DriftResult.read(paths.drift) if paths.drift.exists() else None
    shadow = MonitorVerdict.read(paths.monitor).checks.shadow if paths.monitor.exists() else None
    best = Tuning.read(paths.best_params) if paths.best_params.exists() else None
    tuning = best if best and best.tuned else None
    changes = params_diff(before_params, after_params)
    cost = costs.summarize(params, env)
    domain = load_domain(params)
    return Context(
        base, domain.words, domain.period, changes, data, validation, drift, trigger(env), shadow, tuning, cost
    )


def _md5(pointer: str) -> str | None:
    """The md5 a `.dvc` pointer's text records (None for a file that is not one)."""
    outs = (yaml.safe_load(pointer) or {}).get("outs") if pointer.strip() else None
    return str(outs[0].get("md5")) if isinstance(outs, list) and outs and isinstance(outs[0], dict) else None


def _share(values: dict[str, Any]) -> float:
    """The positive share of a window (`late_share` in data metrics written before domains were generic)."""
    return float(values.get("positive_share", values.get("late_share", float("nan"))))


# --- rendering ---------------------------------------------------------------------------------------------


def _number(value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _short(md5: str | None) -> str:
    return f"`{md5[:8]}`" if md5 else "none"


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body.strip()}\n\n</details>\n"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict(decision: Decision, base: str) -> str:
    if decision.promote:
        why = "first model, floors hold" if decision.first_model else decision.summary
        return f"## ✅ Promote: the challenger may replace the champion on `{base}`: {why}"
    more = len(decision.reasons) - 1
    return f"## ❌ Block: {decision.reasons[0]}" + (f" (and {more} more)" if more > 0 else "")


def _metrics_table(decision: Decision) -> str:
    champion, challenger = decision.metrics.get("champion", {}), decision.metrics["challenger"]
    rows = []
    for key, name in METRIC_NAMES.items():
        stats = decision.comparison.get(key)
        delta = challenger[key] - champion[key] if key in champion else None
        interval = f"[{stats.ci_low:+.4f}, {stats.ci_high:+.4f}]" if stats else "-"
        rows.append(
            [
                name,
                _number(champion.get(key)),
                _number(challenger[key]),
                _number(delta, True),
                interval,
                _p(stats.p_value if stats else None),
            ]
        )
    if decision.mcnemar:
        test = decision.mcnemar
        rows.append(
            [
                f"decisions at threshold {decision.threshold:g} (McNemar)",
                f"{test.only_champion_right:,} right only here",
                f"{test.only_challenger_right:,} right only here",
                "-",
                "-",
                _p(test.p_value),
            ]
        )
    return _table(["metric", "champion", "challenger", "delta", "95% interval", "p-value"], rows)


def _slices(decision: Decision) -> str:
    rows = [
        [f"{r.slice}={r.value}", f"{r.rows:,}", _number(r.champion), _number(r.challenger), _number(r.delta, True)]
        for r in sorted(decision.slices, key=lambda r: r.delta or 0.0)
    ]
    return (
        _table(["slice", "rows", "champion ROC AUC", "challenger ROC AUC", "delta"], rows)
        if rows
        else "No champion to compare slices with."
    )


def _data(context: Context) -> str:
    data = context.data
    lines = [
        f"Batches added since the champion on `{context.base}` was trained: "
        + (", ".join(data.get("added", [])) or "none")
        + (f"; removed: {', '.join(data['removed'])}" if data.get("removed") else "")
        + (f"; changed since: {', '.join(data['changed'])}" if data.get("changed") else "")
    ]
    rows = []
    for window in ("train", "test"):
        now, before = data.get("now", {}).get(window, {}), (data.get("before") or {}).get(window, {})
        for label, values in ((f"`{context.base}`", before), ("this run", now)):
            if values:
                rows.append(
                    [
                        window,
                        label,
                        f"{values['rows']:,}",
                        f"{values['first'][:10]} .. {values['last'][:10]}",
                        f"{_share(values):.3f}",
                    ]
                )
    if rows:
        share = f"{context.words.classes[1]} share"
        lines.append(_table(["window", "version", context.words.rows, "time (UTC)", share], rows))
    return "\n\n".join(lines)


def _validation(context: Context) -> str:
    report = context.validation
    if report is None:
        return "No validation report."
    rows = [
        [
            b.file,
            f"{b.rows:,}",
            "-" if b.positive_share is None else b.positive_share,
            "-" if b.unlabelled is None else b.unlabelled,
            "✅" if b.passed else "❌",
        ]
        for b in report.batches
    ]
    head = "All batches passed the data contract." if report.passed else f"{len(report.violations)} violation(s)."
    header = ["batch", context.words.rows, f"{context.words.classes[1]} share", "unlabelled", "passed"]
    return head + "\n\n" + _table(header, rows)


def _drift(context: Context, figures: set[str]) -> str:
    drift = context.drift
    if drift is None:
        return "Drift of the newest batch against the training window: not measured."
    rows = [
        [f.feature, f.test, _number(f.statistic), _p(f.p_value_adjusted), _number(f.psi), "yes" if f.drifted else "no"]
        for f in drift.features
    ]
    header = ["feature", "test", "statistic", "p-value (Holm)", "PSI", "drifted"]
    table = _table(header, rows) if rows else ""
    image = f"\n\n![drift]({drift.figure})" if drift.figure in figures else ""
    return f"{drift.summary}\n\n{table}{image}"


def _tuning(tuning: Tuning, period: str) -> str:
    counts = ", ".join(f"{count} {state}" for state, count in tuning.trials.items())
    seconds = f" in {tuning.seconds:.0f} s" if tuning.seconds else ""
    head = (
        f"Optuna ({tuning.sampler}) study `{tuning.study}`: {sum(tuning.trials.values())} trials ({counts})"
        f"{seconds}. Best: trial {tuning.best_trial}, {tuning.metric} {tuning.best_value or 0:.4f} on the "
        f"time-ordered validation {period}s of the training window. Train used these values:"
    )
    rows = [
        [f"`{name}`", f"`{value:.4g}`" if isinstance(value, float) else f"`{value}`"]
        for name, value in tuning.hyperparameters.items()
    ]
    return head + "\n\n" + _table(["hyperparameter", "value"], rows)


def _identities(decision: Decision) -> str:
    base, champion, challenger = decision.base, decision.champion, decision.challenger
    return _table(
        ["model", "md5 (dvc.lock)", "where", "dvc.lock naming it committed in"],
        [
            ["champion", _short(champion.model_md5), f"`{base.ref}` at {_short(base.commit)}", _short(champion.commit)],
            ["challenger", _short(challenger.model_md5), f"working tree at {_short(challenger.commit)}", "this PR"],
        ],
    )


def render(decision: Decision, context: Context, figures: set[str]) -> str:
    """The whole report. `figures` names the PNG files that exist beside it; others are not linked."""

    def image(key: str, alt: str) -> str:
        return f"![{alt}]({FIGURES[key]})" if FIGURES[key] in figures else ""

    window = decision.test_window
    dates = f"{str(window.get('first', ''))[:10]} .. {str(window.get('last', ''))[:10]}"
    parts = [
        _verdict(decision, context.base),
        f"**Trigger:** {context.trigger}  \n"
        f"**Champion** {_short(decision.champion.model_md5)} (`{context.base}`) against "
        f"**challenger** {_short(decision.challenger.model_md5)}, both scored on the same test window: "
        f"{window.get('rows', 0):,} {context.words.rows}, {dates}.",
    ]
    if decision.gate_changed:
        parts.append(
            "**Gate rules changed in this PR:** they apply after merge; this verdict uses the rules on "
            f"`{context.base}`."
        )
    if decision.first_model:
        parts.append(f"There is no model on `{context.base}` yet: this is the first model, so only the floors decide.")
    elif decision.comparison:
        parts.append(f"**Difference:** {decision.summary}.")
    parts.append(_metrics_table(decision))
    parts.append(" ".join(filter(None, [image("roc", "ROC curves"), image("pr", "precision-recall curves")])))
    checks = decision.checks or [Check(rule="", passed=False, detail=reason) for reason in decision.reasons]
    parts.append(_details("Gate checks", "\n".join(f"- {'✅' if c.passed else '❌'} {c.detail}" for c in checks)))
    sliced = ", ".join(dict.fromkeys(row.slice for row in decision.slices))
    parts.append(_details(f"Slices ({sliced})" if sliced else "Slices", _slices(decision)))
    changes = (
        _table(
            ["param", f"`{context.base}`", "this run"],
            [[f"`{k}`", f"`{a}`", f"`{b}`"] for k, a, b in context.params_diff],
        )
        if context.params_diff
        else "No params changed."
    )
    parts.append(_details(f"Params changed against `{context.base}` ({len(context.params_diff)})", changes))
    if context.tuning:
        plots = " ".join(
            filter(
                None,
                [image("tuning_history", "objective over trials"), image("tuning_importance", "parameter importance")],
            )
        )
        parts.append(_details("Tuning", _tuning(context.tuning, context.period) + (f"\n\n{plots}" if plots else "")))
    parts.append(_details("Data", _data(context)))
    parts.append(_details("Validation", _validation(context)))
    if context.drift is not None:
        parts.append(_details("Drift", _drift(context, figures)))
    if context.shadow:
        shadow = context.shadow
        parts.append(
            _details(
                "Shadow model on live traffic",
                f"Replaying the inference log: the shadow model would have decided differently on "
                f"{shadow.disagreement_rate:.1%} of {shadow.predictions:,} predictions (mean absolute "
                f"difference in probability {shadow.mean_absolute_difference:.4f}).",
            )
        )
    pictures = [
        image("confusion", "confusion matrices"),
        image("calibration", "calibration"),
        image("by_period", f"ROC AUC per {context.period}"),
    ]
    title = f"Confusion, calibration, ROC AUC per {context.period}"
    parts.append(_details(title, "\n\n".join(filter(None, pictures))))
    parts.append(_details("Models", _identities(decision)))
    if context.cost:
        cost = context.cost
        headline = f"${cost.estimate_usd:.4f}, " if cost.estimate_usd is not None else ""
        title = f"Cost: {headline}{cost.wall_seconds / 60:.1f} min, {cost.cpu_seconds / 60:.1f} CPU min"
        parts.append(_details(title, costs.render(cost)))
    return "\n\n".join(part.strip() for part in parts if part.strip()) + "\n"


# --- the commands --------------------------------------------------------------------------------------------


def write(params: Params, root: Path, base: str, env: Mapping[str, str]) -> Decision:
    """Render reports/report.md (what CML posts) from the decision `retrain compare` wrote; the decision."""
    paths = params.paths
    decision = Decision.read(paths.decision)
    context = gather(params, root, base, env)
    if context.tuning:
        plots.tuning(files.read_json(paths.trials), context.tuning, paths.report.parent)
    figures = {path.name for path in paths.report.parent.glob("*.png")}
    paths.report.write_text(render(decision, context, figures))
    if context.cost and env.get("GITHUB_ACTIONS") == "true":  # the run's record, committed with the retrain PR
        context.cost.write(paths.cost)
        files.append_text("GITHUB_STEP_SUMMARY", f"### What this retrain cost\n\n{costs.render(context.cost)}\n")
    return decision


def summary(params: Params) -> list[str]:
    """The headline metrics of the current model and where its outputs are, one line each."""
    paths, rows = params.paths, load_domain(params).words.rows
    metrics, data = files.read_json(paths.metrics), files.read_json(paths.data_metrics)
    meta = files.read_json(paths.model_meta)
    train, test = data["train"], data["test"]
    return [
        f"model     {paths.model} ({meta['estimator']}, trained on {train['rows']:,} {rows})",
        f"window    train {train['first'][:10]} .. {train['last'][:10]}, "
        f"test {test['first'][:10]} .. {test['last'][:10]} ({test['rows']:,} {rows})",
        "metrics   " + ", ".join(f"{k} {metrics[k]:.4f}" for k in ("roc_auc", "pr_auc", "log_loss", "brier", "f1")),
        f"outputs   {paths.metrics}, {paths.slices}, plots in {paths.plots}/ and {paths.figures}/",
    ]
