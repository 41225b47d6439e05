"""`retrain`: one subcommand per pipeline stage (validate, featurize, drift, tune, train, evaluate), plus the data
commands (new-batch, bootstrap), the decision (compare, gate, report, summary), monitoring (monitor, alert),
deployment (deploy, smoke, promote, history) and set-params.
The only place that parses arguments; each command loads, calls one pure function, and writes.

Exit codes: 0 ok; 2 bad usage or bad input (a clear message); 3 gate blocked; 1 unexpected error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrain.errors import BadInput, Failed
from retrain.io import files, modelfile, vcs
from retrain.params import Params, ParamsError, load

log = logging.getLogger("retrain")

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_BLOCKED = 0, 1, 2, 3


def validate(params: Params, root: Path) -> None:
    """Stage validate: check every batch against the data contract; write the validated flights."""
    from retrain.pipeline.validate import combine
    from retrain.pipeline.validate import validate as check

    paths = params.paths
    batches = files.read_batches(paths.landing)
    weather = (str(paths.weather), files.read_frame(paths.weather))
    report = check(batches, weather, params.validate_, params.featurize.late_minutes)
    files.write_json(report.to_dict(), paths.validation)
    if not report.passed:
        for violation in report.violations:
            log.error(violation.message())
        raise BadInput(
            f"{len(report.violations)} contract violation(s); see {paths.validation}. "
            f"Nothing in {paths.landing} was changed."
        )
    files.write_frame(combine(batches), paths.validated)
    log.info("validate: %d batch(es), %d rows passed", len(batches), sum(len(f) for f in batches.values()))


def featurize(params: Params, root: Path) -> None:
    """Stage featurize: clean, join the weather, label, split by time."""
    from retrain.pipeline.featurize import featurize as build

    paths = params.paths
    split = build(files.read_frame(paths.validated), files.read_frame(paths.weather), params.featurize)
    files.write_frame(split.train, paths.train)
    files.write_frame(split.test, paths.test)
    files.write_json(split.stats, paths.data_metrics)
    log.info("featurize: %d training rows, %d test rows", len(split.train), len(split.test))


def drift(params: Params, root: Path) -> None:
    """Stage drift: the newest batch against the training window, per feature; JSON and a PNG for the report."""
    from retrain import plots
    from retrain.pipeline.drift import drift as measure

    paths = params.paths
    result = measure(files.read_frame(paths.train), files.read_frame(paths.test), params.drift)
    plots.drift(result["features"], paths.drift_figure)
    files.write_json(result | {"figure": paths.drift_figure.name}, paths.drift)
    log.info("drift: %s", result["summary"])


def tune(params: Params, root: Path, workers: int | None = None) -> None:
    """Stage tune: search the hyperparameters with Optuna (when tune.enabled) and write the ones train uses."""
    paths, settings = params.paths, params.tune
    if not settings.enabled:
        files.write_json(
            {"tuned": False, "estimator": params.train.estimator, "hyperparameters": {}}, paths.best_params
        )
        files.write_json([], paths.trials)
        log.info("tune: off (tune.enabled is false); train uses the fixed hyperparameters")
        return
    from retrain import tracking
    from retrain.pipeline import tune as search

    study = search.tune(root, paths.train, params.train, settings, workers or settings.workers)
    best = search.summary(study, params.train, settings) | {"importance": search.importance(study)}
    trials = search.trials(study)
    files.write_json(best, paths.best_params)
    files.write_json(trials, paths.trials)
    tracking.log_study(root, params.tracking.experiment, best, trials)
    log.info(
        "tune: best trial %d of %d, %s %.4f: %s",
        best["best_trial"],
        len(trials),
        settings.metric,
        best["best_value"],
        best["hyperparameters"],
    )


def train(params: Params, root: Path) -> None:
    """Stage train: fit the Pipeline (with the tuned values, if any) and save it with skops, metadata beside it."""
    from retrain.pipeline.train import metadata
    from retrain.pipeline.train import train as fit

    paths = params.paths
    settings = params.train.tuned(files.read_json(paths.best_params)) if paths.best_params.exists() else params.train
    frame = files.read_frame(paths.train)
    model = fit(frame, settings)
    modelfile.save(model, paths.model)
    files.write_json(metadata(frame, settings, files.md5(paths.train), vcs.commit(root) or "unknown"), paths.model_meta)
    log.info("train: %s fitted on %d rows, saved to %s", params.train.estimator, len(frame), paths.model)


def evaluate(params: Params, root: Path) -> None:
    """Stage evaluate: metrics, slices and plots on the test window; log the model and all of it to MLflow."""
    from retrain import plots
    from retrain.pipeline.evaluate import evaluate as score

    paths = params.paths
    model, test = modelfile.load(paths.model), files.read_frame(paths.test)
    result = score(model, test, params.evaluate)
    files.write_json(result.metrics, paths.metrics)
    files.write_json(result.slices, paths.slices)
    for name, frame in result.curves.items():
        files.write_json(frame.to_dict("records"), paths.plots / f"{name}.json")
    figures = plots.all_plots({"model": result.curves}, paths.figures)
    _log_model(params, root, model, test, result.metrics, figures)
    log.info("evaluate: roc_auc %.4f, pr_auc %.4f", result.metrics["roc_auc"], result.metrics["pr_auc"])


def _log_model(
    params: Params, root: Path, model: Any, test: Any, metrics: dict[str, float], figures: list[Path]
) -> str:
    """Log the working tree's model to MLflow with its metrics; returns the run id."""
    from retrain import tracking
    from retrain.domain import schema

    meta = files.read_json(params.paths.model_meta)
    return tracking.log_run(
        root,
        params.tracking.experiment,
        model,
        test[list(schema.FEATURES)].head(5),
        {"train": params.train.model_dump(), "featurize": params.featurize.model_dump()},
        metrics,
        {"model_md5": files.md5(params.paths.model), "data_md5": meta["data_md5"], "git_commit": meta["git_commit"]},
        figures,
    )


def compare(params: Params, root: Path, base: str) -> int:
    """Champion (the model dvc.lock names at BASE) against the working tree's model; exit 3 if the gate blocks."""
    import pandas as pd

    from retrain import plots, tracking
    from retrain.decision import statistics
    from retrain.domain import schema
    from retrain.pipeline import evaluate as scoring

    paths, threshold = params.paths, params.evaluate.threshold
    challenger_md5 = modelfile.locked(root, params.paths.model)
    model = modelfile.load(paths.model)
    test = files.read_frame(paths.test)
    y = test[schema.TARGET].to_numpy()
    predictions = {"challenger": scoring.predict(model, test)}
    windows = {"challenger": _window(files.read_json(paths.model_meta))}

    champion = _champion(params, root, base, challenger_md5, model)
    if champion.model is not None:
        predictions["champion"] = scoring.predict(champion.model, test)
        if "training_window" in champion.meta:
            windows["champion"] = _window(champion.meta)

    metrics = {name: scoring.scores(y, proba, threshold) for name, proba in predictions.items()}
    if champion.problem:
        decision: dict[str, Any] = {"promote": False, "reasons": [champion.problem], "first_model": False}
        decision["summary"] = "champion unavailable"
    else:
        decision = statistics.compare(
            test,
            predictions.get("champion"),
            predictions["challenger"],
            metrics["challenger"],
            params.compare,
            params.gate,
            threshold,
        )
    decision |= {
        "base": {"ref": base, "commit": champion.commit},
        "champion": {"model_md5": champion.md5, "trained_from": champion.meta.get("git_commit")},
        "challenger": {
            "model_md5": challenger_md5,
            "commit": vcs.commit(root),
            "trained_from": files.read_json(paths.model_meta)["git_commit"],
        },
        "metrics": metrics,
        "threshold": threshold,
        "test_window": files.read_json(paths.data_metrics)["test"],
    }
    files.write_json(decision, paths.decision)

    figures = paths.report.parent
    curves: dict[str, dict[str, pd.DataFrame]] = {
        name: scoring.curves(y, predictions[name], threshold, params.evaluate.curve_points)
        for name in ("champion", "challenger")
        if name in predictions
    }
    plots.all_plots(curves, figures)
    history = pd.concat([files.read_frame(paths.train), test], ignore_index=True)
    models = {"challenger": model} | ({"champion": champion.model} if "champion" in windows else {})
    if champion.md5 == challenger_md5:
        models.pop("champion", None)  # the same model: one line is enough
    by_month = statistics.metric_by_month(history, {n: scoring.predict(m, history) for n, m in models.items()}, windows)
    plots.by_month(by_month, "roc_auc", figures / "by_month.png")

    run_id = tracking.find_run(root, params.tracking.experiment, challenger_md5)
    if run_id is None:
        run_id = _log_model(params, root, model, test, metrics["challenger"], [])
    tracking.set_alias(
        root, params.tracking.experiment, params.tracking.registered_model, run_id, challenger_md5, "challenger"
    )
    verdict = "PROMOTE" if decision["promote"] else "BLOCK"
    log.info("compare: %s against %s (%s): %s", verdict, base, decision["summary"], "; ".join(decision["reasons"]))
    return EXIT_OK if decision["promote"] else EXIT_BLOCKED


@dataclass(frozen=True)
class _Champion:
    commit: str | None
    md5: str | None
    model: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def _champion(params: Params, root: Path, base: str, challenger_md5: str, challenger: Any) -> _Champion:
    """The model that dvc.lock names at `base`, read through git objects and DVC (never a checkout)."""
    import tempfile

    path = params.paths.model
    commit = vcs.commit(root, base)
    if commit is None:
        return _Champion(
            None,
            None,
            problem=f"base {base!r} names no commit here (a shallow CI checkout needs `git fetch origin {base}`)",
        )
    md5 = vcs.lock_md5(vcs.show(root, base, "dvc.lock"), path)
    meta = json.loads(vcs.show(root, base, params.paths.model_meta) or "{}")
    if md5 is None:
        return _Champion(commit, None)  # the first model
    if md5 == challenger_md5:
        return _Champion(commit, md5, challenger, meta)
    with tempfile.TemporaryDirectory() as scratch:
        try:
            vcs.fetch_output(root, base, path, md5, Path(scratch) / "champion.skops")
            return _Champion(commit, md5, modelfile.load(Path(scratch) / "champion.skops"), meta)
        except Exception as error:
            detail = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            if not vcs.dvc_remotes(root):
                detail = "it is not in the local DVC cache and no DVC remote is configured"
            return _Champion(
                commit,
                md5,
                meta=meta,
                problem=f"the champion {md5} that dvc.lock names at {base} could not be fetched ({detail}); "
                "configure the DVC remote it was pushed to, or `dvc pull` it",
            )


def _window(meta: dict[str, Any]) -> tuple[str, str]:
    return meta["training_window"]["first"], meta["training_window"]["last"]


def new_batch(params: Params, root: Path, month: str) -> None:
    """Simulate the arrival of a month of flights: write the batch and track it with DVC."""
    from retrain.domain import bundled

    month_number = files.batch_month(month)
    if month_number is None:
        raise BadInput(f"month must look like 2013-07, not {month!r}")
    path = params.paths.landing / f"{month}.parquet"
    if path.exists():
        raise BadInput(f"{path} already exists; batches are immutable (remove it and its .dvc pointer to redo)")
    try:
        frame = bundled.flights(*month_number)
    except ValueError as error:
        raise BadInput(str(error)) from error
    files.write_frame(frame, path)
    vcs.run_dvc(root, "add", "--quiet", str(path))
    log.info(
        "new-batch: wrote %s (%d flights) and %s.dvc; commit the pointer, then `make retrain`",
        path,
        len(frame),
        path,
    )


def bootstrap(params: Params, root: Path) -> None:
    """Recreate the bundled data named by the committed pointers, byte for byte, when no DVC remote holds it."""
    from retrain.domain import bundled

    pointers = sorted(params.paths.landing.glob("*.parquet.dvc"))
    weather_pointer = params.paths.weather.with_name(params.paths.weather.name + ".dvc")
    if weather_pointer.exists():
        pointers.append(weather_pointer)
    written = []
    for pointer in pointers:
        path = pointer.with_suffix("")
        expected = vcs.pointer_md5(pointer)
        if path.exists() and files.md5(path) == expected:
            continue
        if path == params.paths.weather:
            frame = bundled.weather()
        else:
            batch = files.batch_month(path.name)
            if batch is None:
                raise BadInput(f"{pointer}: not a YYYY-MM.parquet batch; fetch it with `dvc pull`")
            frame = bundled.flights(*batch)
        files.write_frame(frame, path)
        if files.md5(path) != expected:
            path.unlink()
            raise BadInput(
                f"{pointer}: the bundled data does not reproduce md5 {expected}; "
                "this batch came from elsewhere: configure a DVC remote and run `dvc pull`"
            )
        written.append(str(pointer))
    if written:
        vcs.run_dvc(root, "commit", "--force", "--quiet", *written)
    log.info("bootstrap: %d file(s) regenerated, %d already in place", len(written), len(pointers) - len(written))


def monitor(params: Params, root: Path, now: str | None = None) -> None:
    """Decide whether to retrain from the inference log and late labels; writes reports/monitor.json (and, in
    GitHub Actions, step outputs `retrain` and `reason` and a job summary)."""
    import os

    import pandas as pd

    from retrain.monitoring import alert
    from retrain.monitoring import monitor as watch

    paths = params.paths
    log_dir = Path(os.environ.get("RETRAIN_INFERENCE_LOG") or params.monitor.log_dir)
    labels_dir = Path(os.environ.get("RETRAIN_LABELS") or params.monitor.labels_dir)
    traffic, malformed = watch.parse_log(files.read_lines(log_dir))
    labels, malformed_labels = watch.parse_labels(files.read_lines(labels_dir))
    verdict = watch.monitor(
        traffic,
        labels,
        files.read_frame(paths.train),
        files.read_json(paths.metrics),
        pd.Timestamp(files.read_json(paths.model_meta)["training_window"]["last"]),
        pd.Timestamp(now) if now else pd.Timestamp.now(tz="UTC"),
        params.monitor,
        params.drift,
        params.featurize.late_minutes,
        params.evaluate.threshold,
    )
    verdict |= {
        "inference_log": str(log_dir),
        "malformed_lines": malformed,
        "malformed_label_lines": malformed_labels,
        "models_seen": sorted(traffic["model"].dropna().unique().tolist()),
    }
    files.write_json(verdict, paths.monitor)
    if os.environ.get("GITHUB_OUTPUT"):
        reason = "; ".join(verdict["reasons"]).replace("\n", " ")
        with Path(os.environ["GITHUB_OUTPUT"]).open("a") as outputs:
            outputs.write(f"retrain={str(verdict['retrain']).lower()}\nreason={reason}\n")
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with Path(os.environ["GITHUB_STEP_SUMMARY"]).open("a") as summary_file:
            summary_file.write(alert.render(verdict, os.environ))
    if malformed or malformed_labels:
        log.warning(
            "monitor: skipped %d malformed log line(s), %d malformed label line(s)", malformed, malformed_labels
        )
    log.info("monitor: retrain=%s %s", verdict["retrain"], "; ".join(verdict["reasons"]) or "(nothing fired)")


def alert(params: Params, root: Path, webhook: str | None = None) -> None:
    """Render the alert for the last monitoring verdict (reports/alert.md); POST it to a webhook when retraining."""
    import os

    from retrain.monitoring import alert as alerting

    verdict = files.read_json(params.paths.monitor)
    params.paths.alert.write_text(alerting.render(verdict, os.environ))
    print(alerting.title(verdict))
    url = webhook or os.environ.get("RETRAIN_WEBHOOK_URL")
    if url and verdict["retrain"]:
        try:
            status = alerting.post(url, alerting.payload(verdict, os.environ))
        except ConnectionError as error:
            raise BadInput(str(error)) from error
        log.info("alert: posted to the webhook (HTTP %d)", status)


def set_params(params: Params, root: Path, assignments: list[str]) -> None:
    """Override params.yaml keys (KEY=VALUE, values in YAML syntax), also from $RETRAIN_PARAMS (one per line)."""
    import os

    import yaml

    path = root / "params.yaml"
    lines = [*assignments, *os.environ.get("RETRAIN_PARAMS", "").splitlines()]
    changes = {}
    for line in filter(None, (line.strip() for line in lines)):
        key, separator, value = line.partition("=")
        if not separator or not key.strip():
            raise BadInput(f"parameter override {line!r} is not KEY=VALUE")
        changes[key.strip()] = yaml.safe_load(value)
    if not changes:
        log.info("set-params: nothing to change")
        return
    original = path.read_text()
    files.set_yaml_values(path, changes)
    try:
        load(path)
    except ParamsError:
        path.write_text(original)
        raise
    log.info("set-params: %s", ", ".join(f"{k}={v!r}" for k, v in changes.items()))


def gate(params: Params, root: Path) -> int:
    """Exit 3 if the last `retrain compare` blocked (so a workflow fails its check after posting the report)."""
    decision = files.read_json(params.paths.decision)
    print(f"gate: {'promote' if decision['promote'] else 'BLOCKED'}: {'; '.join(decision['reasons'])}")
    return EXIT_OK if decision["promote"] else EXIT_BLOCKED


def report(params: Params, root: Path, base: str) -> None:
    """Render reports/report.md (for CML) from the decision of `retrain compare`, and print the verdict."""
    import os

    from retrain import plots
    from retrain.decision import report as markdown

    paths = params.paths
    decision = files.read_json(paths.decision)
    context = markdown.gather(params, root, base, os.environ)
    if context.tuning:
        plots.tuning(files.read_json(paths.trials), context.tuning, paths.report.parent)
    figures = {path.name for path in paths.report.parent.glob("*.png")}
    paths.report.write_text(markdown.render(decision, context, figures))
    print(f"{'PROMOTE' if decision['promote'] else 'BLOCK'}: {'; '.join(decision['reasons'])}")
    print(f"report    {paths.report} (+ {len(figures)} PNGs beside it)")


def history(params: Params, root: Path, ref: str, as_json: bool) -> None:
    """Which model REF named when (promotions and rollbacks), from git and dvc.lock."""
    from retrain.release import history as audit

    rows = audit.history(root, ref, params.paths.model, params.paths.metrics)
    print(json.dumps(rows, indent=2) if as_json else audit.table(rows))


def smoke(params: Params, root: Path, url: str) -> int:
    """Check that the service at URL serves exactly the model dvc.lock names (exit 3 if not)."""
    from retrain.release.smoke import smoke as check

    expected = modelfile.locked(root, params.paths.model)
    failures = check(
        url.rstrip("/"), expected, modelfile.load(params.paths.model), files.read_json(params.paths.golden)
    )
    for failure in failures:
        log.error("smoke: %s", failure)
    if not failures:
        log.info("smoke: %s serves model %s, golden predictions equal", url, expected)
    return EXIT_BLOCKED if failures else EXIT_OK


def deploy(params: Params, root: Path, bento: str | None, target: str, previous: bool, stop: bool) -> None:
    """Deploy the Bento BENTO, after checking that it holds the model dvc.lock names, to TARGET."""
    import os

    from retrain.release import deploy as targets

    settings = params.deploy
    home = Path(os.environ.get("RETRAIN_DEPLOY_DIR") or Path.home() / ".local/state/retrain")
    local = targets.Local(home, settings.host, settings.port, settings.ready_timeout, settings.drain_seconds)
    if stop:
        local.stop()
    elif previous:
        live = local.deploy(local.previous())
        print(f"rolled back: {live.bento} (model {live.md5}, commit {live.commit[:8]}) live on :{settings.port}")
    elif bento is None:
        raise BadInput("name the Bento to deploy (--bento flight_delay:TAG), or --previous, or --stop")
    else:
        md5 = modelfile.locked(root, params.paths.model)
        targets.verify_bento(bento, md5, params.paths.model)
        if target == "local":
            live = local.deploy(targets.Release(bento, md5, vcs.commit(root) or "unknown"))
            print(f"deployed: {live.bento} (model {live.md5}) live on :{settings.port}")
        else:
            targets.remote(target, bento)


def promote(params: Params, root: Path) -> None:
    """After a good deploy: move the MLflow alias `champion` to the model dvc.lock names, and record the deployment."""
    import datetime
    import getpass
    import os

    import pandas as pd

    from retrain import tracking

    paths = params.paths
    md5 = modelfile.locked(root, params.paths.model)
    metrics = files.read_json(paths.metrics)
    run_id = tracking.find_run(root, params.tracking.experiment, md5)
    if run_id is None:  # trained elsewhere (CI) with another tracking store: log it here
        example = pd.DataFrame(files.read_json(paths.golden))
        run_id = _log_model(params, root, modelfile.load(paths.model), example, metrics, [])
    deployment = {
        "deployed_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "deployed_by": os.environ.get("GITHUB_ACTOR") or getpass.getuser(),
        "deployed_commit": vcs.commit(root) or "unknown",
    }
    name = params.tracking.registered_model
    version = tracking.set_alias(root, params.tracking.experiment, name, run_id, md5, "champion", deployment)
    who, when, commit = deployment["deployed_by"], deployment["deployed_at"], deployment["deployed_commit"][:8]
    line = (
        f"Deployed model `{md5}` ({name} version {version}, ROC AUC {metrics['roc_auc']:.4f}) "
        f"from commit `{commit}` by {who} at {when}"
    )
    print(line)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with Path(os.environ["GITHUB_STEP_SUMMARY"]).open("a") as summary_file:
            summary_file.write(line + "\n")


def summary(params: Params, root: Path) -> None:
    """Print the headline metrics and where the outputs are."""
    paths = params.paths
    metrics = files.read_json(paths.metrics)
    data = files.read_json(paths.data_metrics)
    meta = files.read_json(paths.model_meta)
    print(f"model     {paths.model} ({meta['estimator']}, trained on {data['train']['rows']:,} flights)")
    print(
        f"window    train {data['train']['first'][:10]} .. {data['train']['last'][:10]}, "
        f"test {data['test']['first'][:10]} .. {data['test']['last'][:10]} ({data['test']['rows']:,} flights)"
    )
    print("metrics   " + ", ".join(f"{k} {metrics[k]:.4f}" for k in ("roc_auc", "pr_auc", "log_loss", "brier", "f1")))
    print(f"outputs   {paths.metrics}, {paths.slices}, plots in {paths.plots}/ and {paths.figures}/")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retrain",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, function in COMMANDS.items():
        commands.add_parser(name, help=(function.__doc__ or "").splitlines()[0])
    batch = commands.add_parser("new-batch", help=(new_batch.__doc__ or "").splitlines()[0])
    batch.add_argument("month", help="YYYY-MM, e.g. 2013-07")
    overrides = commands.add_parser("set-params", help=(set_params.__doc__ or "").splitlines()[0])
    overrides.add_argument("assignments", nargs="*", metavar="KEY=VALUE", help="e.g. train.seed=7")
    commands.add_parser("gate", help=(gate.__doc__ or "").splitlines()[0])
    commands.add_parser("promote", help=(promote.__doc__ or "").splitlines()[0])
    search = commands.add_parser("tune", help=(tune.__doc__ or "").splitlines()[0])
    search.add_argument("--workers", type=int, help="worker processes on one study (default: tune.workers)")
    ship = commands.add_parser("deploy", help=(deploy.__doc__ or "").splitlines()[0])
    ship.add_argument("--bento", help="the Bento tag, e.g. flight_delay:1a2b3c4d5e6f (built by `make bento`)")
    ship.add_argument("--target", choices=("local", "bentocloud", "container"), default="local")
    ship.add_argument("--previous", action="store_true", help="local: redeploy the release that was live before")
    ship.add_argument("--stop", action="store_true", help="local: stop the front and the live release")
    check = commands.add_parser("smoke", help=(smoke.__doc__ or "").splitlines()[0])
    check.add_argument("--url", help="the service (default: http://127.0.0.1:<deploy.port>, the local target)")
    audit = commands.add_parser("history", help=(history.__doc__ or "").splitlines()[0])
    audit.add_argument("--ref", default="main", help="branch or ref (default: main)")
    audit.add_argument("--json", action="store_true", help="JSON instead of a Markdown table")
    watch = commands.add_parser("monitor", help=(monitor.__doc__ or "").splitlines()[0], description=monitor.__doc__)
    watch.add_argument("--now", help="evaluate as of this ISO time (default: now), e.g. to replay a log")
    warn = commands.add_parser("alert", help=(alert.__doc__ or "").splitlines()[0], description=alert.__doc__)
    warn.add_argument("--webhook", help="URL to POST the alert to (default: $RETRAIN_WEBHOOK_URL; only if retraining)")
    gated: tuple[tuple[str, Callable[..., Any]], ...] = (("compare", compare), ("report", report))
    for name, function in gated:
        command = commands.add_parser(
            name,
            help=(function.__doc__ or "").splitlines()[0],
            description=(function.__doc__ or "") + "\n\nExit codes: 0 promote, 3 blocked, 2 bad input, 1 error.",
        )
        command.add_argument("--base", default=None, help="git ref of the champion (default: compare.base in params)")
    return parser


STAGES: dict[str, Callable[[Params, Path], None]] = {
    "validate": validate,
    "featurize": featurize,
    "drift": drift,
    "tune": tune,
    "train": train,
    "evaluate": evaluate,
}
COMMANDS: dict[str, Callable[[Params, Path], None]] = {
    name: function
    for name, function in STAGES.items()
    if name != "tune"  # tune has its own parser (--workers)
} | {"bootstrap": bootstrap, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if arguments.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        params = load(arguments.params)
        root = arguments.params.resolve().parent
        if arguments.command == "new-batch":
            new_batch(params, root, arguments.month)
        elif arguments.command == "compare":
            return compare(params, root, arguments.base or params.compare.base)
        elif arguments.command == "report":
            report(params, root, arguments.base or params.compare.base)
        elif arguments.command == "set-params":
            set_params(params, root, arguments.assignments)
        elif arguments.command == "gate":
            return gate(params, root)
        elif arguments.command == "promote":
            promote(params, root)
        elif arguments.command == "tune":
            tune(params, root, arguments.workers)
        elif arguments.command == "deploy":
            deploy(params, root, arguments.bento, arguments.target, arguments.previous, arguments.stop)
        elif arguments.command == "smoke":
            return smoke(params, root, arguments.url or f"http://127.0.0.1:{params.deploy.port}")
        elif arguments.command == "history":
            history(params, root, arguments.ref, arguments.json)
        elif arguments.command == "monitor":
            monitor(params, root, arguments.now)
        elif arguments.command == "alert":
            alert(params, root, arguments.webhook)
        else:
            COMMANDS[arguments.command](params, root)
    except BadInput as error:
        log.error("%s", error)
        return EXIT_BAD_INPUT
    except Failed as error:
        log.error("failed: %s", error)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
