"""The aggregated curves: known answers where the curve has runs of equal recall."""

from __future__ import annotations

import numpy as np
import pytest

from retrain.pipeline import evaluate


def test_the_pr_curve_follows_its_path_through_runs_of_equal_recall() -> None:
    """Ten positives, each ranked just above three negatives. Lowering the threshold, recall rises to j/10 with
    precision j/(4j-3), then stays at j/10 while precision falls to 1/4, then rises to (j+1)/10 at (j+1)/(4j+1):
    midway between two recalls the curve lies midway between 1/4 and (j+1)/(4j+1), whatever order a sort gives
    the points of equal recall."""
    y = np.tile([1, 0, 0, 0], 10)
    proba = np.linspace(0.99, 0.01, len(y))
    pr = evaluate.curves(y, proba, threshold=0.5, points=21)["pr"]
    midway = pr.iloc[1::2]  # recall 0.05, 0.15, ..., 0.95: strictly between two steps
    expected = [1.0] + [(1 / 4 + (j + 1) / (4 * j + 1)) / 2 for j in range(1, 10)]
    np.testing.assert_allclose(midway["recall"], np.arange(10) / 10 + 0.05, rtol=1e-12)
    assert midway["precision"].tolist() == pytest.approx(expected, rel=1e-12)
