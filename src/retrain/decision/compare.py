"""`retrain compare`: the champion (the model dvc.lock names at the base) against the working tree's model, on the
same test window: the decision, its figures, and the MLflow alias `challenger`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import ValidationError

from retrain import plots, tracking
from retrain.decision import champion as champions
from retrain.decision import statistics
from retrain.domain import Domain, load_domain
from retrain.io import files, modelfile, vcs
from retrain.params import Gate, Params
from retrain.pipeline import evaluate
from retrain.results import Base, Check, Decision, Identity, Verdict

log = logging.getLogger(__name__)


def _window(meta: dict[str, Any]) -> tuple[str, str]:
    return meta["training_window"]["first"], meta["training_window"]["last"]


def base_rules(params: Params, root: Path, base: str) -> tuple[Params, str | None]:
    """This tree's params with the `gate` section and `paths.model` committed at `base`: the base's rules judge and
    its model path names the champion (a PR may propose new rules; they judge only after merge). Only those two are
    read, so a PR that changes any other part of params.yaml's shape is still judged by them. When base has no
    params.yaml (a first commit), this tree's rules; when its rules do not load, this tree's rules and the problem,
    which blocks: a PR never judges itself."""
    text = vcs.show(root, base, "params.yaml")
    if text is None:
        return params, None
    source = f"params.yaml at {base}"
    try:
        raw = yaml.safe_load(text)
        gate = Gate.model_validate(raw["gate"])
        model = Path(raw["paths"]["model"])
    except (yaml.YAMLError, ValidationError, KeyError, TypeError) as error:
        problem = f"the gate rules in {source} do not load ({type(error).__name__}: {str(error).splitlines()[0]})"
        return params, f"{problem}: the gate cannot judge by the base's rules"
    return params.model_copy(update={"gate": gate, "paths": params.paths.model_copy(update={"model": model})}), None


def compare(params: Params, root: Path, base: str, push: bool = True) -> Decision:
    """Judge the challenger against the champion at `base` by the rules at `base` (a first model, with no champion
    there, by this tree's); write the decision and the figures beside the report. A champion rebuilt because no DVC
    cache or remote held it is pushed if `push`."""
    base = vcs.resolve(root, base)
    rules, rules_problem = base_rules(params, root, base)
    paths, threshold, domain = params.paths, params.evaluate.threshold, load_domain(params)
    challenger_md5 = modelfile.locked(root, paths.model)
    model = modelfile.load(paths.model)
    test = files.read_frame(paths.test)
    y = test[domain.target].to_numpy()
    predictions = {"challenger": evaluate.predict(model, test, domain)}
    windows = {"challenger": _window(files.read_json(paths.model_meta))}

    champion = champions.fetch(rules, root, base, challenger_md5, model, push)
    if champion.model is not None:
        predictions["champion"] = evaluate.predict(champion.model, test, domain)
        if "training_window" in champion.meta:
            windows["champion"] = _window(champion.meta)

    metrics = {name: evaluate.scores(y, proba, threshold) for name, proba in predictions.items()}
    first = champion.md5 is None and champion.problem is None
    if first:  # no model at the base (a fork's first): its rules were the example's; this tree's floors judge
        rules, rules_problem = params, None
    if rules_problem:
        verdict = Verdict(promote=False, reasons=[rules_problem], summary="gate rules unavailable")
    elif champion.problem:
        verdict = Verdict(promote=False, reasons=[champion.problem], summary="champion unavailable")
    else:
        verdict = statistics.compare(
            test,
            y,
            predictions.get("champion"),
            predictions["challenger"],
            metrics["challenger"],
            params.compare,
            rules.gate,
            threshold,
        )
        if champion.rebuilt:  # said with the gate's checks (and reasons, when promoting): the report shows it
            check = Check(rule="champion", passed=True, detail=f"champion {champion.rebuilt}")
            reasons = [*verdict.reasons, check.detail] if verdict.promote else verdict.reasons
            verdict = verdict.model_copy(update={"checks": [*verdict.checks, check], "reasons": reasons})
    decision = Decision(
        **verdict.model_dump(),
        base=Base(ref=base, commit=champion.commit),
        champion=Identity(model_md5=champion.md5, commit=champion.locked_in),
        challenger=Identity(model_md5=challenger_md5, commit=vcs.commit(root)),
        metrics=metrics,
        threshold=threshold,
        test_window=files.read_json(paths.data_metrics)["test"],
        gate_changed=rules.gate != params.gate,
    )
    decision.write(paths.decision)
    _figures(params, domain, model, challenger_md5, champion, test, predictions, windows)

    run_id = tracking.find_run(root, params.tracking.experiment, challenger_md5)
    if run_id is None:
        run_id = tracking.log_model(params, root, model, test, metrics["challenger"], [])
    tracking.set_alias(
        root, params.tracking.experiment, params.tracking.registered_model, run_id, challenger_md5, "challenger"
    )
    outcome = "PROMOTE" if decision.promote else "BLOCK"
    log.info("compare: %s against %s (%s): %s", outcome, base, decision.summary, "; ".join(decision.reasons))
    return decision


def _figures(
    params: Params,
    domain: Domain,
    model: Any,
    challenger_md5: str,
    champion: champions.Champion,
    test: pd.DataFrame,
    predictions: dict[str, Any],
    windows: dict[str, tuple[str, str]],
) -> None:
    """Both models' curves, and ROC AUC per batch period over the training and test windows, as PNGs beside the
    report."""
    paths, threshold = params.paths, params.evaluate.threshold
    y = test[domain.target].to_numpy()
    figures = paths.report.parent
    curves: dict[str, dict[str, pd.DataFrame]] = {
        name: evaluate.curves(y, predictions[name], threshold, params.evaluate.curve_points, domain.words.classes)
        for name in ("champion", "challenger")
        if name in predictions
    }
    plots.all_plots(curves, figures)
    history = pd.concat([files.read_frame(paths.train), test], ignore_index=True)
    models = {"challenger": model} | ({"champion": champion.model} if "champion" in windows else {})
    if champion.md5 == challenger_md5:
        models.pop("champion", None)  # the same model: one line is enough
    scores = {name: evaluate.predict(fitted, history, domain) for name, fitted in models.items()}
    by_period = statistics.metric_by_period(history, scores, windows, domain)
    plots.by_period(by_period, "roc_auc", domain.period, figures / "by_period.png")
