"""Champion against challenger on the same test window: paired bootstrap, McNemar, slices, and the promotion gate.

Pure functions on arrays and frames; `retrain compare` fetches the two models and writes the decision.
The bootstrap is vectorised: each resample is a vector of counts (how often each row was drawn), and ROC AUC and
average precision are computed from per-score-group sums of those counts, for all resamples at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from retrain.domain import Domain, periods
from retrain.params import Compare, Gate
from retrain.pipeline.evaluate import slice_rows
from retrain.results import Check, Delta, McNemar, SliceDelta, Verdict

CHUNK = 100  # resamples per vectorised block: 100 x 27k counts is about 20 MB


@dataclass(frozen=True)
class _Groups:
    """Rows sorted by descending score, with the boundaries of runs of tied scores."""

    order: np.ndarray
    starts: np.ndarray
    y: np.ndarray


def _groups(y: np.ndarray, scores: np.ndarray) -> _Groups:
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    return _Groups(order, starts, y[order].astype(np.int64))


def _group_sums(groups: _Groups, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted positives and negatives in each tie group, descending score; weights are (resamples, rows)."""
    w = weights[:, groups.order]
    positives = np.add.reduceat(w * groups.y, groups.starts, axis=1)
    negatives = np.add.reduceat(w, groups.starts, axis=1) - positives
    return positives, negatives


def _roc_auc(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    negatives_below = negatives.sum(axis=1, keepdims=True) - np.cumsum(negatives, axis=1)
    wins = (positives * (negatives_below + 0.5 * negatives)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(wins / (positives.sum(axis=1) * negatives.sum(axis=1)), dtype=float)


def _average_precision(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    true_positives, false_positives = np.cumsum(positives, axis=1), np.cumsum(negatives, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(true_positives > 0, true_positives / (true_positives + false_positives), 0.0)
        return np.asarray((positives * precision).sum(axis=1) / positives.sum(axis=1), dtype=float)


METRICS = {"roc_auc": _roc_auc, "pr_auc": _average_precision}  # each from the same group sums


def weighted_roc_auc(groups: _Groups, weights: np.ndarray) -> np.ndarray:
    """ROC AUC per row of `weights` (ties count one half), as `roc_auc_score` with `sample_weight`."""
    return _roc_auc(*_group_sums(groups, weights))


def weighted_average_precision(groups: _Groups, weights: np.ndarray) -> np.ndarray:
    """Average precision per row of `weights`, as `average_precision_score` with `sample_weight`."""
    return _average_precision(*_group_sums(groups, weights))


def _metrics(groups: _Groups, weights: np.ndarray) -> dict[str, np.ndarray]:
    sums = _group_sums(groups, weights)
    return {name: metric(*sums) for name, metric in METRICS.items()}


def paired_bootstrap(
    y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, resamples: int, seed: int, level: float = 0.95
) -> dict[str, dict[str, Any]]:
    """Challenger minus champion for each metric: point estimate, percentile interval and two-sided p-value.

    Both models are scored on the same resamples (paired), which is what makes small differences detectable.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    champion_groups, challenger_groups = _groups(y, champion), _groups(y, challenger)
    ones = np.ones((1, n))
    deltas: dict[str, list[np.ndarray]] = {name: [] for name in METRICS}
    for start in range(0, resamples, CHUNK):
        draws = rng.integers(0, n, size=(min(CHUNK, resamples - start), n))
        weights = np.stack([np.bincount(row, minlength=n) for row in draws])
        champion_metrics, challenger_metrics = _metrics(champion_groups, weights), _metrics(challenger_groups, weights)
        for name in METRICS:
            deltas[name].append(challenger_metrics[name] - champion_metrics[name])
    points = _metrics(champion_groups, ones), _metrics(challenger_groups, ones)
    results = {}
    for name in METRICS:
        before, after = float(points[0][name][0]), float(points[1][name][0])
        sample = np.concatenate(deltas[name])
        sample = sample[np.isfinite(sample)]
        low, high = np.quantile(sample, [(1 - level) / 2, (1 + level) / 2])
        # two-sided bootstrap p-value for "no difference": how often the resampled delta falls on either side of 0
        tail = min(np.mean(sample <= 0), np.mean(sample >= 0))
        results[name] = {
            "champion": before,
            "challenger": after,
            "delta": after - before,
            "ci_low": float(low),
            "ci_high": float(high),
            "p_value": float(min(1.0, 2 * tail)) if np.any(sample != 0) else 1.0,
        }
    return results


def mcnemar(y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, threshold: float) -> dict[str, Any]:
    """Exact McNemar test on the decisions at `threshold`: do the two models err on different rows?"""
    right_before = (champion >= threshold).astype(int) == y
    right_after = (challenger >= threshold).astype(int) == y
    only_champion = int((right_before & ~right_after).sum())
    only_challenger = int((~right_before & right_after).sum())
    discordant = only_champion + only_challenger
    p_value = stats.binomtest(only_champion, discordant, 0.5).pvalue if discordant else 1.0
    return {
        "only_champion_right": only_champion,
        "only_challenger_right": only_challenger,
        "p_value": float(p_value),
    }


def slice_deltas(
    frame: pd.DataFrame,
    y: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    columns: tuple[str, ...],
    min_rows: int,
) -> list[dict[str, Any]]:
    """ROC AUC of both models per slice value; slices under `min_rows` rows or with one class get counts only."""
    rows = []
    for column, value, index in slice_rows(frame, columns):
        row: dict[str, Any] = {"slice": column, "value": value, "rows": len(index)}
        labels = y[index]
        if len(index) >= min_rows and 0 < labels.sum() < len(labels):
            weights = np.ones((1, len(index)))
            before = weighted_roc_auc(_groups(labels, champion[index]), weights)[0]
            after = weighted_roc_auc(_groups(labels, challenger[index]), weights)[0]
            row |= {"champion": float(before), "challenger": float(after), "delta": float(after - before)}
        rows.append(row)
    return rows


def gate(
    challenger_metrics: dict[str, float],
    comparison: dict[str, dict[str, Any]] | None,
    slices: list[dict[str, Any]],
    params: Gate,
    test_rows: int,
) -> list[Check]:
    """The promotion rule on a test window of `test_rows` rows, as a list of checks; promote only if all pass. A
    comparison on fewer than `min_test_rows` rows blocks (its intervals are too wide to mean anything); a first model
    has nothing to compare with, and its floors alone decide."""
    checks: list[Check] = []

    def check(rule: str, passed: bool, detail: str) -> None:
        checks.append(Check(rule=rule, passed=bool(passed), detail=detail))

    for metric, floor in params.floors.items():
        value = challenger_metrics[metric]
        check(
            f"floor {metric}", value >= floor, f"{metric} {value:.4f} {'>=' if value >= floor else '<'} floor {floor:g}"
        )
    if comparison is None:
        check("first model", True, "first model: no champion to compare with, so the floors alone decide")
        return checks
    if test_rows < params.min_test_rows:
        check(
            "test rows",
            False,
            f"test window {test_rows} < min_test_rows {params.min_test_rows} rows: too small to judge",
        )
    name = params.primary_metric
    delta, low = comparison[name]["delta"], comparison[name]["ci_low"]
    check(
        f"{name} delta",
        delta >= params.min_delta,
        f"{name} changed by {delta:+.4f} ({'at least' if delta >= params.min_delta else 'less than'} "
        f"the required {params.min_delta:+g})",
    )
    check(
        f"{name} interval",
        low >= -params.max_loss,
        f"{name} 95% interval starts at {low:+.4f} ({'within' if low >= -params.max_loss else 'below'} "
        f"the tolerated loss -{params.max_loss:g})",
    )
    for row in slices:
        if "delta" in row and row["rows"] >= params.min_slice_rows and row["delta"] < -params.max_slice_loss:
            check(
                f"slice {row['slice']}={row['value']}",
                False,
                f"slice {row['slice']}={row['value']} ({row['rows']:,} rows) loses {row['delta']:+.4f} {name}, "
                f"more than {params.max_slice_loss:g}",
            )
    if all(c.passed for c in checks if c.rule.startswith("slice")):
        check(
            "slices", True, f"no slice of >= {params.min_slice_rows:,} rows loses more than {params.max_slice_loss:g}"
        )
    return checks


def verdict(checks: list[Check]) -> tuple[bool, list[str]]:
    """Promote if every check passed; the reasons are the failed checks, or all of them when promoting."""
    failed = [c.detail for c in checks if not c.passed]
    return not failed, failed or [c.detail for c in checks]


def significance(comparison: dict[str, dict[str, Any]], alpha: float) -> str:
    """One phrase for the primary difference: significant or not, and which way."""
    roc = comparison["roc_auc"]
    p = "p < 0.001" if roc["p_value"] < 0.001 else f"p = {roc['p_value']:.3f}"
    if roc["delta"] == 0 and roc["ci_low"] == roc["ci_high"] == 0:
        return "no significant change (identical predictions)"
    if roc["p_value"] >= alpha:
        return f"no significant change in ROC AUC ({p})"
    return f"ROC AUC significantly {'better' if roc['delta'] > 0 else 'worse'} ({p})"


def compare(
    test: pd.DataFrame,
    y: np.ndarray,
    champion: np.ndarray | None,
    challenger: np.ndarray,
    challenger_metrics: dict[str, float],
    params: Compare,
    gate_params: Gate,
    threshold: float,
) -> Verdict:
    """The statistical part of the decision on the test window (`y` its labels): comparison, McNemar, slices and the
    verdict."""
    if champion is None:
        checks = gate(challenger_metrics, None, [], gate_params, len(test))
        promote, reasons = verdict(checks)
        return Verdict(promote=promote, reasons=reasons, checks=checks, first_model=True, summary="first model")
    comparison = paired_bootstrap(y, champion, challenger, params.bootstrap_resamples, params.seed)
    slices = slice_deltas(test, y, champion, challenger, params.slices, gate_params.min_slice_rows)
    checks = gate(challenger_metrics, comparison, slices, gate_params, len(test))
    promote, reasons = verdict(checks)
    return Verdict(
        promote=promote,
        reasons=reasons,
        checks=checks,
        summary=significance(comparison, params.alpha),
        comparison={name: Delta.model_validate(values) for name, values in comparison.items()},
        mcnemar=McNemar.model_validate(mcnemar(y, champion, challenger, threshold)),
        slices=[SliceDelta.model_validate(row) for row in slices],
    )


def metric_by_period(
    frame: pd.DataFrame, predictions: dict[str, np.ndarray], windows: dict[str, tuple[str, str]], domain: Domain
) -> pd.DataFrame:
    """ROC AUC of each model in each batch period, marking the periods inside the model's own training window."""
    names = periods.labels(frame[domain.time], domain.period, domain.timezone).to_numpy()
    y = frame[domain.target].to_numpy()
    rows = []
    for name, proba in predictions.items():
        window = pd.Series(pd.to_datetime(list(windows[name]), utc=True))
        first, last = periods.labels(window, domain.period, domain.timezone)
        for period, index in pd.Series(range(len(frame))).groupby(names).indices.items():
            auc = weighted_roc_auc(_groups(y[index], proba[index]), np.ones((1, len(index))))[0]
            label = str(period)
            rows.append({"period": label, "model": name, "roc_auc": float(auc), "in_sample": first <= label <= last})
    return pd.DataFrame(rows)
