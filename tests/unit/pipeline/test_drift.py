"""Drift statistics: equal to scipy on the same input, and known answers on synthetic and real shifts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from retrain.params import Drift
from retrain.pipeline import drift

PARAMS = Drift(
    exclude=("year", "month", "day"), psi_bins=10, psi_floor=1e-4, psi_threshold=0.2, alpha=0.05, dataset_share=0.3
)


@pytest.mark.parametrize(
    ("rows", "shift"),
    [((800, 300), 0.05), ((40_000, 12_000), 0.05), ((40_000, 12_000), 1.0)],  # exact, asymptotic, underflow
)
def test_ks_equals_scipy_with_ties_and_missing_values(rows: tuple[int, int], shift: float) -> None:
    rng = np.random.default_rng(0)
    reference = pd.Series(np.round(rng.normal(size=rows[0]), 1))
    current = pd.Series(np.round(rng.normal(shift, 1.1, size=rows[1]), 1))
    reference.iloc[::50] = np.nan
    expected = stats.ks_2samp(reference.dropna(), current.dropna())
    statistic, p_value = drift.ks_test(reference, current)
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_chi_square_equals_scipy_including_a_category_new_in_current() -> None:
    reference = pd.Series(["EWR"] * 500 + ["JFK"] * 300 + ["LGA"] * 200)
    current = pd.Series(["EWR"] * 90 + ["JFK"] * 80 + ["LGA"] * 20 + ["ANC"] * 10)
    table = np.array([[500, 300, 200, 0], [90, 80, 20, 10]])
    expected = stats.chi2_contingency(table)
    assert drift.chi_square_test(reference, current) == pytest.approx((expected.statistic, expected.pvalue))


def test_psi_equals_a_direct_computation_on_reference_deciles() -> None:
    rng = np.random.default_rng(1)
    reference, current = pd.Series(rng.normal(size=20_000)), pd.Series(rng.normal(0.3, 1, size=5_000))
    edges = np.quantile(reference, np.linspace(0, 1, 11)[1:-1], method="inverted_cdf")
    ref_share = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=10) / len(reference)
    cur_share = np.bincount(np.searchsorted(edges, current, side="right"), minlength=10) / len(current)
    ref_share, cur_share = np.maximum(ref_share, 1e-4), np.maximum(cur_share, 1e-4)
    expected = np.sum((cur_share - ref_share) * np.log(cur_share / ref_share))
    shares = drift.binned_shares(reference, current, categorical=False, bins=10)
    assert drift.psi(shares, 1e-4) == pytest.approx(expected, rel=1e-6)


def test_holm_matches_the_textbook_example() -> None:
    adjusted = drift.holm(np.array([0.01, 0.04, 0.03, 0.005]))
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])


def test_holm_gives_tied_p_values_one_adjusted_value() -> None:
    adjusted = drift.holm(np.array([0.001, 0.02, 0.001, 0.001, 0.03]))
    np.testing.assert_allclose(adjusted, [0.005, 0.04, 0.005, 0.005, 0.04])


def _frames(rng: np.random.Generator, change: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    def sample(n: int, shifted: bool) -> pd.DataFrame:
        mix = [0.5, 0.3, 0.2] if not (shifted and change == "mix") else [0.2, 0.3, 0.5]
        return pd.DataFrame(
            {
                "a": rng.normal(1.0 if shifted and change == "mean" else 0.0, 1, n),
                "b": rng.normal(0, 2.0 if shifted and change == "variance" else 1.0, n),
                "c": np.round(rng.gamma(2, 2, n)),
                "d": rng.choice(["x", "y", "z"], size=n, p=mix),
            }
        )

    return sample(5_000, False), sample(2_000, True)


def test_no_shift_gives_no_dataset_drift_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(2)
    seeds, any_significant, dataset_drift = 100, 0, 0
    for _ in range(seeds):
        result = drift.drift(*_frames(rng, None), PARAMS, features=["a", "b", "c", "d"])
        any_significant += any(f.p_value_adjusted < PARAMS.alpha for f in result.features)
        dataset_drift += result.dataset_drift
    assert dataset_drift == 0
    assert any_significant / seeds <= 0.1  # Holm keeps the family-wise rate at alpha = 0.05


@pytest.mark.parametrize(("change", "feature"), [("mean", "a"), ("variance", "b"), ("mix", "d")])
def test_each_kind_of_shift_is_detected(change: str, feature: str) -> None:
    result = drift.drift(*_frames(np.random.default_rng(3), change), PARAMS, features=["a", "b", "c", "d"])
    assert result.drifted_features == [feature]
