"""Stage `drift`: the newest batch (the test window) against the model's training window, feature by feature.

Numeric features: Kolmogorov-Smirnov. Categorical ones: chi-square on the contingency table. Where a side has
missing values, a chi-square test of present against missing too (the two Bonferroni-combined). Every feature: the
Population Stability Index with bins from reference quantiles (categories for categorical features) and a floor for
empty bins. The p-values are Holm-corrected for testing many features at once. At these sizes (100k+ rows) almost
any difference is significant, so a feature counts as drifted only when its PSI reaches the threshold *and* its
corrected p-value is below alpha: the effect size decides, the test confirms.

Everything is computed from value counts (one hash pass per column), so the cost is linear in rows with no sort of
the raw data; the results equal `scipy.stats.ks_2samp` and `scipy.stats.chi2_contingency` (tests compare them).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from retrain import plots
from retrain.domain import Domain, load_domain
from retrain.io import cluster, files
from retrain.params import Drift, Params
from retrain.pipeline import partitioned
from retrain.results import DriftResult, FeatureDrift

log = logging.getLogger(__name__)

MISSING = "(missing)"
EXACT_KS_MAX_ROWS = 10_000  # scipy's ks_2samp computes exact p-values up to this size, asymptotic ones above
LOG_SMALLEST = np.log(np.nextafter(0, 1))  # about -744.4: exp() of anything lower is 0.0 in float64


@dataclass(frozen=True)
class Counts:
    """One feature on both sides, reduced to value counts (one hash pass each) and missing counts."""

    reference: pd.Series
    current: pd.Series
    reference_rows: int
    current_rows: int

    @classmethod
    def of(cls, reference: pd.Series, current: pd.Series, categorical: bool) -> Counts:
        return cls.added([tally(reference)], [tally(current)], categorical)

    @classmethod
    def added(cls, reference: list[Tally], current: list[Tally], categorical: bool) -> Counts:
        """The partitions' tallies of each side added up: categories in the order they first appear, numbers
        sorted."""

        def total(tallies: list[Tally]) -> tuple[pd.Series, int]:
            counted = pd.concat([counts for counts, _ in tallies]).groupby(level=0, sort=not categorical).sum()
            return counted, sum(rows for _, rows in tallies)

        (before, before_rows), (now, now_rows) = total(reference), total(current)
        return cls(before, now, before_rows, now_rows)

    def missing(self) -> tuple[int, int]:
        return self.reference_rows - int(self.reference.sum()), self.current_rows - int(self.current.sum())


Tally = tuple[pd.Series, int]
"""A column of one partition: the count of each value present, in the order they first appear, and its rows."""


def tally(values: pd.Series) -> Tally:
    return values.value_counts(sort=False, dropna=True), len(values)


def tallies(frame: pd.DataFrame, features: list[str]) -> dict[str, Tally]:
    """Each feature's tally in a partition (times as numbers)."""
    return {name: tally(_as_numbers(frame[name])) for name in features}


def ks_test(reference: pd.Series, current: pd.Series) -> tuple[float, float]:
    """Two-sided KS statistic and p-value of the non-missing values, as `scipy.stats.ks_2samp` gives them."""
    return _ks(Counts.of(reference, current, categorical=False))


def _ks(counts: Counts) -> tuple[float, float]:
    n1, n2 = int(counts.reference.sum()), int(counts.current.sum())
    if not n1 or not n2:  # no value on one side: nothing to compare (`missing_test` sees it)
        return 0.0, 1.0
    if max(n1, n2) <= EXACT_KS_MAX_ROWS:  # the values again, from their counts (the test does not see order)
        result = stats.ks_2samp(
            *(np.repeat(c.index.to_numpy(), c.to_numpy()) for c in (counts.reference, counts.current))
        )
        return float(result.statistic), float(result.pvalue)
    values = np.union1d(counts.reference.index.to_numpy(), counts.current.index.to_numpy())
    ref_cdf = np.cumsum(counts.reference.reindex(values, fill_value=0).to_numpy()) / n1
    cur_cdf = np.cumsum(counts.current.reindex(values, fill_value=0).to_numpy()) / n2
    statistic = float(np.max(np.abs(ref_cdf - cur_cdf)))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    effective = np.round(m * n / (m + n))
    # The Dvoretzky-Kiefer-Wolfowitz bound 2 exp(-2 n D^2) caps the p-value; when it underflows to 0, scipy's
    # (slow, 50 ms) exact tail is 0.0 too, so skip it.
    if -2 * effective * statistic**2 < LOG_SMALLEST:
        return statistic, 0.0
    return statistic, float(np.clip(stats.kstwo.sf(statistic, effective), 0, 1))


def chi_square_test(reference: pd.Series, current: pd.Series) -> tuple[float, float]:
    """Chi-square test of independence on the 2 x categories table, as `scipy.stats.chi2_contingency` gives it.
    A category seen on one side only is a column with a zero, which the test handles."""
    return _chi_square(Counts.of(reference, current, categorical=True))


def _chi_square(counts: Counts) -> tuple[float, float]:
    table = pd.concat([counts.reference, counts.current], axis=1).fillna(0).to_numpy().T
    if table.shape[1] < 2 or table.sum(axis=1).min() == 0:  # one category, or no value on one side
        return 0.0, 1.0
    result = stats.chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)


def missing_test(counts: Counts) -> float:
    """p-value of the chi-square test of present against missing by side: a field that goes missing more often is a
    change the value tests cannot see, since they compare the values present. 1.0 when no side has a missing value."""
    missing = counts.missing()
    table = np.array([[counts.reference_rows - missing[0], missing[0]], [counts.current_rows - missing[1], missing[1]]])
    if table.sum(axis=0).min() == 0 or table.sum(axis=1).min() == 0:
        return 1.0
    return float(stats.chi2_contingency(table).pvalue)


def _quantile_edges(counts: pd.Series, bins: int) -> np.ndarray:
    """Interior bin edges at reference quantiles (the inverted-CDF definition, so every edge is an observed value),
    from sorted value counts; ties can merge bins."""
    cumulative = np.cumsum(counts.to_numpy()) / counts.sum()
    quantiles = np.linspace(0, 1, bins + 1)[1:-1]
    positions = np.minimum(np.searchsorted(cumulative, quantiles, side="left"), len(counts) - 1)
    return np.unique(counts.index.to_numpy()[positions])


def binned_shares(reference: pd.Series, current: pd.Series, categorical: bool, bins: int) -> pd.DataFrame:
    """Share of each side in each bin (quantile bins or categories), plus a bin for missing values."""
    return _shares(Counts.of(reference, current, categorical), categorical, bins)


def _shares(counts: Counts, categorical: bool, bins: int) -> pd.DataFrame:
    missing = counts.missing()
    if categorical:
        table = pd.concat([counts.reference, counts.current], axis=1).fillna(0)
        labels = [str(label) for label in table.index]
        ref_bins, cur_bins = table.iloc[:, 0].to_numpy(), table.iloc[:, 1].to_numpy()
    else:
        edges = _quantile_edges(counts.reference, bins)

        def binned(counted: pd.Series) -> np.ndarray:
            index = np.searchsorted(edges, counted.index.to_numpy(), side="right")
            return np.bincount(index, weights=counted.to_numpy(), minlength=len(edges) + 1)

        bounds = [-np.inf, *edges, np.inf]
        labels = [f"[{low:g}, {high:g})" for low, high in itertools.pairwise(bounds)]
        ref_bins, cur_bins = binned(counts.reference), binned(counts.current)
    return pd.DataFrame(
        {
            "bin": [*labels, MISSING],
            "reference": np.append(ref_bins, missing[0]) / max(counts.reference_rows, 1),
            "current": np.append(cur_bins, missing[1]) / max(counts.current_rows, 1),
        }
    )


def psi(shares: pd.DataFrame, floor: float) -> float:
    """Population Stability Index; empty bins count as `floor` so a new category is large, not infinite."""
    ref = np.maximum(shares["reference"].to_numpy(), floor)
    cur = np.maximum(shares["current"].to_numpy(), floor)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (family-wise error control for many features at once)."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")  # tied p-values get one adjusted value whatever their order
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p_values[order]))
    result = np.empty(m)
    result[order] = adjusted
    return result


def compared(domain: Domain, params: Drift) -> list[str]:
    """The features drift compares: the model's raw inputs less `drift.exclude` and less the domain's time (a time
    split moves it forward by construction, so it would always read as drift)."""
    return [name for name in domain.features if name not in params.exclude and name != domain.time]


def _as_numbers(values: pd.Series) -> pd.Series:
    """A time as seconds since 1970 (missing stays missing): compared as a number, not as categories."""
    if not pd.api.types.is_datetime64_any_dtype(values):
        return values
    return (pd.to_datetime(values, utc=True) - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)


def drift(reference: pd.DataFrame, current: pd.DataFrame, params: Drift, features: list[str]) -> DriftResult:
    """Per-feature tests, PSI and drift flags, and the dataset-level verdict; times are numbers (seconds since 1970),
    other non-numeric features are treated as categorical."""
    sides = [tallies(reference, features)], [tallies(current, features)]
    return judged(*sides, (len(reference), len(current)), params, features)


def judged(
    reference: list[dict[str, Tally]],
    current: list[dict[str, Tally]],
    sizes: tuple[int, int],
    params: Drift,
    features: list[str],
) -> DriftResult:
    """`drift` from the tallies of each side's partitions (and each side's size in rows)."""
    rows: list[dict[str, Any]] = []
    for name in features:
        categorical = not pd.api.types.is_numeric_dtype(reference[0][name][0].index.dtype)
        counts = Counts.added([part[name] for part in reference], [part[name] for part in current], categorical)
        test, label = (_chi_square, "chi-square") if categorical else (_ks, "ks")
        statistic, p_value = test(counts)
        if any(counts.missing()):  # values and missingness, each at alpha / 2 (Bonferroni)
            p_value, label = min(1.0, 2 * min(p_value, missing_test(counts))), f"{label} + missing"
        shares = _shares(counts, categorical, params.psi_bins)
        rows.append(
            {
                "feature": name,
                "test": label,
                "statistic": statistic,
                "p_value": p_value,
                "psi": psi(shares, params.psi_floor),
                "bins": shares.to_dict("records"),
            }
        )
    adjusted = holm(np.array([row["p_value"] for row in rows]))
    for row, p_adjusted in zip(rows, adjusted, strict=True):
        row["p_value_adjusted"] = float(p_adjusted)
        row["drifted"] = bool(row["psi"] >= params.psi_threshold and p_adjusted < params.alpha)
    rows.sort(key=lambda row: row["psi"], reverse=True)
    drifted = [row["feature"] for row in rows if row["drifted"]]
    share = len(drifted) / len(rows) if rows else 0.0
    dataset_drift = share >= params.dataset_share
    return DriftResult(
        dataset_drift=dataset_drift,
        drifted_share=share,
        drifted_features=drifted,
        summary=(
            f"{'Dataset drift' if dataset_drift else 'No dataset drift'}: {len(drifted)} of {len(rows)} features "
            f"drifted (PSI >= {params.psi_threshold:g} and Holm-adjusted p < {params.alpha:g}; dataset drift at "
            f">= {params.dataset_share:.0%} of features)."
        ),
        reference_rows=sizes[0],
        current_rows=sizes[1],
        features=[FeatureDrift.model_validate(row) for row in rows],
    )


def run(params: Params, root: Path) -> None:
    """Stage drift: the newest batch against the training window, per feature; JSON and a PNG for the report."""
    paths, features = params.paths, compared(load_domain(params), params.drift)
    if params.engine == "dask":
        with cluster.connect():
            sides = [files.row_ranges(path, params.partition_rows) for path in (paths.train, paths.test)]
            reference, current = partitioned.compute(
                *(partitioned.tasks(tallies, ranges, features, columns=features) for ranges in sides)
            )
        sizes = (sum(r.stop - r.start for r in sides[0]), sum(r.stop - r.start for r in sides[1]))
        result = judged(reference, current, sizes, params.drift, features)
    else:
        result = drift(files.read_frame(paths.train), files.read_frame(paths.test), params.drift, features)
    plots.drift(result.features, paths.drift_figure)
    result.model_copy(update={"figure": paths.drift_figure.name}).write(paths.drift)
    log.info("drift: %s", result.summary)
