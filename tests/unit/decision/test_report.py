"""The report: a verdict on top, every section, and image links only to files that exist."""

from __future__ import annotations

import re

from retrain.decision import report
from retrain.results import (
    Base,
    BatchSummary,
    Bin,
    Check,
    Decision,
    Delta,
    DriftResult,
    FeatureDrift,
    Identity,
    McNemar,
    Shadow,
    SliceDelta,
    Tuning,
    Validation,
)

SECTIONS = (
    "Gate checks",
    "Slices",
    "Params changed",
    "Tuning",
    "Data",
    "Validation",
    "Drift",
    "Shadow",
    "Confusion",
    "Models",
)


def _decision(promote: bool) -> Decision:
    scores = {
        "roc_auc": 0.74,
        "pr_auc": 0.58,
        "log_loss": 0.54,
        "brier": 0.18,
        "precision": 0.5,
        "recall": 0.6,
        "f1": 0.55,
    }
    worse = scores | {"roc_auc": 0.70}
    delta = {"champion": 0.74, "challenger": 0.70, "delta": -0.04, "ci_low": -0.05, "ci_high": -0.03, "p_value": 0.0}
    return Decision(
        promote=promote,
        reasons=["roc_auc changed by -0.0400 (less than the required -0.002)"] if not promote else ["fine"],
        checks=[Check(rule="roc_auc delta", passed=promote, detail="roc_auc changed by -0.0400")],
        first_model=False,
        summary="significantly worse (p = 0.000)",
        comparison={m: Delta.model_validate(delta) for m in ("roc_auc", "pr_auc")},
        mcnemar=McNemar(only_champion_right=120, only_challenger_right=80, p_value=0.005),
        slices=[SliceDelta(slice="origin", value="JFK", rows=900, champion=0.74, challenger=0.7, delta=-0.04)],
        metrics={"champion": scores, "challenger": worse},
        threshold=0.3,
        base=Base(ref="main", commit="a" * 40),
        champion=Identity(model_md5="b" * 32, commit="c" * 40),
        challenger=Identity(model_md5="d" * 32, commit="e" * 40),
        test_window={"rows": 27075, "first": "2013-06-01 09:00:00+00:00", "last": "2013-07-01 03:00:00+00:00"},
    )


def _drift() -> DriftResult:
    month = FeatureDrift(
        feature="month",
        test="ks",
        statistic=1.0,
        p_value=0.0,
        p_value_adjusted=0.0,
        psi=3.1,
        drifted=True,
        bins=[Bin(bin="[6, inf)", reference=0.0, current=1.0)],
    )
    return DriftResult(
        dataset_drift=False,
        drifted_share=1 / 11,
        drifted_features=["month"],
        summary="1 of 11 features drifted",
        reference_rows=100,
        current_rows=10,
        features=[month],
    )


CONTEXT = report.Context(
    base="main",
    params_diff=[("train.seed", 42, 43)],
    data={"added": ["2013-07.parquet"], "removed": [], "now": {}, "before": None},
    validation=Validation(passed=True, violations=[], batches=[BatchSummary(file="x.parquet", rows=10, passed=True)]),
    drift=_drift(),
    trigger="manual dispatch by @ana: new July data",
    shadow=Shadow(predictions=12000, disagreement_rate=0.034, mean_absolute_difference=0.021),
    tuning=Tuning(
        tuned=True,
        estimator="hist_gradient_boosting",
        hyperparameters={"learning_rate": 0.0712345, "max_iter": 250},
        metric="roc_auc",
        best_value=0.7123,
        best_trial=7,
        trials={"complete": 15, "pruned": 5},
        sampler="tpe",
        study="study-0123456789",
        seconds=95.2,
    ),
)


def test_a_blocked_report_leads_with_the_reason_and_has_every_section() -> None:
    text = report.render(_decision(False), CONTEXT, set(report.FIGURES.values()))
    assert text.startswith("## ❌ Block: roc_auc changed by -0.0400")
    for section in SECTIONS:
        assert f"<summary>{section}" in text, section
    assert "| ROC AUC | 0.7400 | 0.7000 | -0.0400 | [-0.0500, -0.0300] | < 0.001 |" in text
    assert "manual dispatch by @ana: new July data" in text and "2013-07.parquet" in text
    assert "`train.seed` | `42` | `43`" in text
    assert "decided differently on 3.4% of 12,000 predictions" in text
    assert "20 trials (15 complete, 5 pruned) in 95 s. Best: trial 7, roc_auc 0.7123" in text
    assert "| `learning_rate` | `0.07123` |" in text and "![objective over trials](tuning_history.png)" in text
    assert "| champion | `bbbbbbbb` | `main` at `aaaaaaaa` | `cccccccc` |" in text  # whose dvc.lock named it


def test_images_are_linked_by_relative_path_only_when_they_exist() -> None:
    text = report.render(_decision(True), CONTEXT, {"roc.png", "pr.png"})
    assert text.startswith("## ✅ Promote")
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text) == ["roc.png", "pr.png"]


def test_the_top_of_the_report_fits_on_one_screen() -> None:
    text = report.render(_decision(False), CONTEXT, set(report.FIGURES.values()))
    assert len(text.split("<details>")[0].splitlines()) <= 25


def test_trigger_names_the_event_the_actor_the_reason_and_links_the_run() -> None:
    env = {
        "GITHUB_EVENT_NAME": "repository_dispatch",
        "GITHUB_ACTOR": "monitor-bot",
        "RETRAIN_REASON": "PSI of dep_hour 0.31",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/retrain",
        "GITHUB_RUN_ID": "42",
    }
    assert report.trigger(env) == (
        "monitoring event by @monitor-bot ([run 42](https://github.com/acme/retrain/actions/runs/42)): "
        "PSI of dep_hour 0.31"
    )
    assert report.trigger({"USER": "ana"}) == "local run by ana"


def test_params_diff_lists_changed_added_and_removed_keys() -> None:
    before = {"train": {"seed": 1, "old": True}, "gate": {"floors": {"roc_auc": 0.7}}}
    after = {"train": {"seed": 2}, "gate": {"floors": {"roc_auc": 0.7}}, "new": 1}
    assert report.params_diff(before, after) == [("new", None, 1), ("train.old", True, None), ("train.seed", 1, 2)]
