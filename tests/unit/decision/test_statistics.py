"""The statistics of champion against challenger, and the gate, on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

from retrain.decision import statistics as compare
from retrain.params import Gate

GATE = Gate(
    primary_metric="roc_auc",
    min_delta=-0.002,
    max_loss=0.01,
    floors={"roc_auc": 0.6, "pr_auc": 0.3},
    min_slice_rows=100,
    max_slice_loss=0.03,
)


def _scores(rng: np.random.Generator, n: int, separation: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores whose true ROC AUC is Phi(separation / sqrt 2)."""
    y = (rng.random(n) < 0.3).astype(int)
    return y, separation * y + rng.normal(size=n)


def test_weighted_metrics_equal_sklearn_with_ties_and_weights() -> None:
    rng = np.random.default_rng(0)
    y, scores = _scores(rng, 3000, 1.0)
    scores = np.round(scores, 1)  # many ties
    weights = rng.integers(0, 4, size=(3, len(y)))
    groups = compare._groups(y, scores)
    expected_auc = [roc_auc_score(y, scores, sample_weight=w) for w in weights]
    expected_ap = [average_precision_score(y, scores, sample_weight=w) for w in weights]
    np.testing.assert_allclose(compare.weighted_roc_auc(groups, weights), expected_auc, rtol=1e-12)
    np.testing.assert_allclose(compare.weighted_average_precision(groups, weights), expected_ap, rtol=1e-12)


def test_an_identical_model_has_zero_delta_and_no_significant_change() -> None:
    y, scores = _scores(np.random.default_rng(1), 2000, 1.0)
    result = compare.paired_bootstrap(y, scores, scores.copy(), resamples=200, seed=0)
    for metric in ("roc_auc", "pr_auc"):
        assert result[metric]["delta"] == result[metric]["ci_low"] == result[metric]["ci_high"] == 0.0
        assert result[metric]["p_value"] == 1.0
    assert compare.significance(result, 0.05).startswith("no significant change")


def test_a_clearly_better_model_is_significant() -> None:
    rng = np.random.default_rng(2)
    y, weak = _scores(rng, 4000, 0.5)
    strong = 1.5 * y + rng.normal(size=len(y))
    result = compare.paired_bootstrap(y, weak, strong, resamples=300, seed=0)
    assert result["roc_auc"]["ci_low"] > 0 and result["roc_auc"]["p_value"] < 0.01
    assert compare.significance(result, 0.05) == "ROC AUC significantly better (p < 0.001)"


def test_the_bootstrap_interval_covers_a_known_difference_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(3)
    true_delta = stats.norm.cdf(1.2 / np.sqrt(2)) - stats.norm.cdf(1.0 / np.sqrt(2))
    simulations, covered = 200, 0
    for simulation in range(simulations):
        y = (rng.random(600) < 0.3).astype(int)
        champion = 1.0 * y + rng.normal(size=len(y))
        challenger = 1.2 * y + rng.normal(size=len(y))
        result = compare.paired_bootstrap(y, champion, challenger, resamples=200, seed=simulation)["roc_auc"]
        covered += result["ci_low"] <= true_delta <= result["ci_high"]
    assert 0.88 <= covered / simulations <= 0.99  # nominal 0.95; the binomial sd over 200 runs is 0.015


def test_mcnemar_is_the_exact_binomial_test_on_discordant_decisions() -> None:
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 0])
    champion = np.array([0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.9, 0.1, 0.9, 0.1])
    challenger = np.array([0.9, 0.9, 0.9, 0.9, 0.1, 0.9, 0.1, 0.1, 0.9, 0.1])
    result = compare.mcnemar(y, champion, challenger, threshold=0.5)
    assert (result["only_champion_right"], result["only_challenger_right"]) == (1, 3)
    assert result["p_value"] == pytest.approx(stats.binomtest(1, 4, 0.5).pvalue)


def _comparison(delta: float, low: float) -> dict[str, dict[str, float]]:
    return {"roc_auc": {"delta": delta, "ci_low": low, "ci_high": delta + 0.01}}


def test_a_first_model_is_judged_on_the_floors_alone() -> None:
    promote, reasons = compare.verdict(compare.gate({"roc_auc": 0.65, "pr_auc": 0.4}, None, [], GATE, test_rows=10_000))
    assert promote and any("first model" in reason for reason in reasons)
    promote, reasons = compare.verdict(compare.gate({"roc_auc": 0.55, "pr_auc": 0.4}, None, [], GATE, test_rows=10_000))
    assert not promote and reasons == ["roc_auc 0.5500 < floor 0.6"]


def test_a_test_window_below_min_test_rows_blocks_a_comparison_but_not_a_first_model() -> None:
    small = GATE.model_copy(update={"min_test_rows": 1000})
    metrics = {"roc_auc": 0.7, "pr_auc": 0.4}
    promote, reasons = compare.verdict(compare.gate(metrics, _comparison(0.01, 0.0), [], small, test_rows=92))
    assert not promote and "test window 92 < min_test_rows 1000 rows: too small to judge" in reasons
    assert compare.verdict(compare.gate(metrics, _comparison(0.01, 0.0), [], small, test_rows=1000))[0]
    assert compare.verdict(compare.gate(metrics, None, [], small, test_rows=92))[0]  # a first model: floors alone


def test_a_loss_beyond_min_delta_blocks_with_the_metric_named() -> None:
    checks = compare.gate({"roc_auc": 0.7, "pr_auc": 0.4}, _comparison(-0.02, -0.03), [], GATE, test_rows=10_000)
    promote, reasons = compare.verdict(checks)
    assert not promote
    assert reasons[0].startswith("roc_auc changed by -0.0200 (less than the required -0.002)")
    assert "below the tolerated loss" in reasons[1]


def test_a_small_tolerated_loss_with_a_tight_interval_promotes() -> None:
    promote, _ = compare.verdict(
        compare.gate({"roc_auc": 0.7, "pr_auc": 0.4}, _comparison(-0.001, -0.005), [], GATE, test_rows=10_000)
    )
    assert promote


def test_a_large_slice_that_loses_too_much_blocks_but_a_small_one_does_not() -> None:
    slices = [
        {"slice": "region", "value": "north", "rows": 500, "delta": -0.05},
        {"slice": "channel", "value": "fax", "rows": 30, "delta": -0.2},
    ]
    promote, reasons = compare.verdict(
        compare.gate({"roc_auc": 0.7, "pr_auc": 0.4}, _comparison(0.01, 0.0), slices, GATE, test_rows=10_000)
    )
    assert not promote and reasons == ["slice region=north (500 rows) loses -0.0500 roc_auc, more than 0.03"]


def test_slice_deltas_count_rows_and_skip_small_slices() -> None:
    rng = np.random.default_rng(4)
    y, scores = _scores(rng, 1000, 1.0)
    frame = pd.DataFrame({"region": np.where(np.arange(1000) < 950, "north", "south")})  # the labels are `y`
    challenger = scores + rng.normal(0, 0.1, 1000)
    rows = compare.slice_deltas(frame, y, scores, challenger, ("region",), min_rows=100)
    assert [(r["value"], r["rows"], "delta" in r) for r in rows] == [("north", 950, True), ("south", 50, False)]
    ewr = np.arange(950)
    assert rows[0]["champion"] == pytest.approx(roc_auc_score(y[ewr], scores[ewr]))
    assert rows[0]["challenger"] == pytest.approx(roc_auc_score(y[ewr], challenger[ewr]))
