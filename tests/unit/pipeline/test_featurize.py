"""featurize on tiny frames: the label, the dropped cancellations, the time split, the weather join."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrain.domain.nycflights import features, schema
from retrain.params import Featurize
from retrain.pipeline import featurize


def _flights(months: list[int], arr_delay: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "year": 2013,
            "month": months,
            "origin": "JFK",
            "arr_delay": pd.array(arr_delay, dtype="float64"),
            "time_hour": pd.to_datetime([f"2013-{m:02d}-02 15:00" for m in months], utc=True),
        }
    )


def test_label_is_arrival_later_than_threshold_and_cancelled_are_dropped() -> None:
    labelled, cancelled = featurize.label(_flights([1, 1, 1, 1], [15.0, 16.0, None, -3.0]), late_minutes=15)
    assert cancelled == 1
    assert labelled[schema.TARGET].tolist() == [0, 1, 0]


def test_split_takes_the_latest_month_as_test_window() -> None:
    frame = _flights([3, 1, 2, 3, 1], [0.0] * 5)
    train, test = featurize.split(frame, test_months=1, train_months=None)
    assert sorted(train["month"]) == [1, 1, 2]
    assert test["month"].tolist() == [3, 3]


def test_split_limits_the_training_window() -> None:
    frame = _flights([1, 2, 3, 4], [0.0] * 4)
    train, test = featurize.split(frame, test_months=1, train_months=2)
    assert train["month"].tolist() == [2, 3]
    assert test["month"].tolist() == [4]


def test_split_crosses_year_boundaries_in_order() -> None:
    frame = _flights([12, 1], [0.0, 0.0]).assign(year=[2013, 2014])
    train, test = featurize.split(frame, test_months=1, train_months=None)
    assert (train["year"].tolist(), test["year"].tolist()) == ([2013], [2014])


def test_split_needs_more_months_than_the_test_window() -> None:
    with pytest.raises(ValueError, match="need more than 1 month"):
        featurize.split(_flights([5, 5], [0.0, 1.0]), test_months=1, train_months=None)


def test_weather_join_matches_origin_and_hour_and_leaves_gaps_missing() -> None:
    flights = _flights([1, 2], [0.0, 30.0])
    weather = pd.DataFrame({"origin": ["JFK"], "time_hour": flights["time_hour"].iloc[:1]})
    for name in schema.WEATHER_FEATURES:
        weather[name] = 1.0
    joined = features.join_weather(flights, weather)
    assert len(joined) == 2
    assert joined["temp"].iloc[0] == 1.0 and np.isnan(joined["temp"].iloc[1])


def test_impossible_wind_speeds_become_missing() -> None:
    weather = pd.DataFrame({"wind_speed": [10.0, 1048.4], "wind_gust": [20.0, np.nan]})
    cleaned = features.clean_weather(weather, max_wind_speed=100)
    assert cleaned["wind_speed"].tolist()[0] == 10.0 and np.isnan(cleaned["wind_speed"].iloc[1])
    assert weather["wind_speed"].iloc[1] == 1048.4  # the input is not changed


def test_featurize_on_real_months(january: pd.DataFrame, weather: pd.DataFrame) -> None:
    february = january.assign(month=2)  # a second month is enough to split
    params = Featurize(late_minutes=15, test_months=1, train_months=None)
    split = featurize.featurize(pd.concat([january, february], ignore_index=True), weather, params)
    assert split.stats["cancelled_dropped"] == 2 * int(january["arr_delay"].isna().sum())
    assert len(split.train) == len(split.test) == int(january["arr_delay"].notna().sum())
    assert split.train["temp"].notna().mean() > 0.95
