"""featurize and tune's folds on daily batches: the label from a float threshold, open tickets dropped, days (cut in
Tokyo) as the unit of the time split and of the folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrain.domain import Domain
from retrain.params import Params
from retrain.pipeline import featurize, tune
from retrain.pipeline.featurize import Split


def _tickets(opened: list[str], hours: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticket": pd.array([f"T-24030{n:05d}" for n in range(len(opened))], dtype="str"),
            "opened_at": pd.to_datetime(opened, utc=True),
            "resolution_hours": pd.array(hours, dtype="float64"),
        }
    )


def test_the_label_is_more_than_the_float_threshold_and_open_tickets_are_dropped(synthetic: Domain) -> None:
    frame = _tickets(["2024-03-01 02:00"] * 5, [23.99, 24.0, 24.01, None, 100.0])
    labelled, open_tickets = featurize.label(frame, synthetic)
    assert open_tickets == 1
    assert labelled["slow"].tolist() == [0, 0, 1, 1]  # slow_hours: 24.0
    assert labelled["slow"].dtype == "int8"
    assert labelled["ticket"].tolist() == frame["ticket"].drop(index=3).tolist()


def test_split_takes_the_last_days_and_cuts_them_in_tokyo(synthetic: Domain) -> None:
    # 14:59 UTC is 23:59 in Tokyo, 15:00 UTC the next day there
    opened = ["2024-03-01 03:00", "2024-03-02 14:59", "2024-03-02 15:00", "2024-03-03 20:00", "2024-03-05 01:00"]
    frame = _tickets(opened, [1.0] * 5)
    train, test = featurize.split(frame, synthetic, test_periods=3, train_periods=None)
    assert train["opened_at"].tolist() == frame["opened_at"].iloc[:2].tolist()  # Tokyo's 1 and 2 March
    assert test["opened_at"].tolist() == frame["opened_at"].iloc[2:].tolist()  # Tokyo's 3, 4 and 5 March
    train, test = featurize.split(frame, synthetic, test_periods=1, train_periods=1)
    assert train["opened_at"].tolist() == frame["opened_at"].iloc[3:4].tolist()  # the day before the gap
    assert test["opened_at"].tolist() == frame["opened_at"].iloc[4:].tolist()


def test_split_needs_more_days_than_the_test_window(synthetic: Domain) -> None:
    with pytest.raises(ValueError, match=r"need more than 2 day\(s\) of data to split, found 2"):
        featurize.split(_tickets(["2024-03-01", "2024-03-02"], [1.0, 2.0]), synthetic, 2, None)


def test_featurize_splits_the_batches_by_day(
    tickets: pd.DataFrame, split: Split, synthetic_params: Params, synthetic: Domain
) -> None:
    open_tickets = int(tickets["resolution_hours"].isna().sum())
    assert split.stats["unlabelled_dropped"] == open_tickets > 0
    assert split.stats["side_values_missing"] == 0  # no side table
    assert len(split.train) + len(split.test) == len(tickets) - open_tickets
    days = {
        name: sorted(frame["opened_at"].dt.tz_convert("Asia/Tokyo").dt.strftime("%m-%d").unique())
        for name, frame in (("train", split.train), ("test", split.test))
    }
    assert days == {"train": [f"03-{d:02d}" for d in range(1, 9)], "test": ["03-09", "03-10"]}
    assert split.stats["test"]["rows"] == len(split.test)
    assert split.stats["train"]["positive_share"] == round(float(split.train["slow"].mean()), 4)
    assert split.stats["train"]["last"] < split.stats["test"]["first"]
    assert set(synthetic.features) <= set(split.train.columns)  # raw model inputs: the Pipeline derives the rest

    limited = synthetic_params.featurize.model_copy(update={"train_periods": 3})
    shorter = featurize.featurize(tickets, {}, limited, synthetic)
    first = shorter.train["opened_at"].min().tz_convert("Asia/Tokyo")
    assert (first.strftime("%m-%d"), len(shorter.test)) == ("03-06", len(split.test))


def test_tune_folds_are_days_each_fitted_on_the_days_before(split: Split, synthetic: Domain) -> None:
    day = split.train["opened_at"].dt.tz_convert("Asia/Tokyo").dt.day.to_numpy()
    folds = list(tune.folds(split.train, 2, synthetic))
    assert len(folds) == 2
    for (fit, validation), validated in zip(folds, (7, 8), strict=True):
        assert set(np.unique(day[validation])) == {validated}
        assert set(np.unique(day[fit])) == set(range(1, validated))
    with pytest.raises(ValueError, match=r"tune\.folds is 8 but the training window has 8 days: need folds \+ 1"):
        list(tune.folds(split.train, 8, synthetic))
