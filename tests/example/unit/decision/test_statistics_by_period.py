"""ROC AUC per batch period of the example: months cut in New York time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from retrain.decision import statistics as compare
from retrain.domain import Domain
from tests.unit.decision.test_statistics import _scores


def test_metric_by_period_scores_each_local_month_and_marks_the_training_window(domain: Domain) -> None:
    rng = np.random.default_rng(5)
    y, scores = _scores(rng, 600, 1.0)
    # 200 flights each in January, February and March, New York time; a January evening is February in UTC
    days = np.repeat(pd.to_datetime(["2013-01-31 23:00", "2013-02-15 12:00", "2013-03-15 12:00"]), 200)
    times = pd.Series(days).dt.tz_localize("America/New_York").dt.tz_convert("UTC")
    frame = pd.DataFrame({domain.time: times, domain.target: y})
    windows = {"champion": ("2013-01-01 10:00:00+00:00", "2013-02-01 04:00:00+00:00")}  # January in New York
    table = compare.metric_by_period(frame, {"champion": scores}, windows, domain)
    assert table["period"].tolist() == ["2013-01", "2013-02", "2013-03"]
    assert table["in_sample"].tolist() == [True, False, False]
    for period, index in zip(table["period"], np.split(np.arange(600), 3), strict=True):
        auc = table.loc[table["period"] == period, "roc_auc"].item()
        assert auc == pytest.approx(roc_auc_score(y[index], scores[index]))
