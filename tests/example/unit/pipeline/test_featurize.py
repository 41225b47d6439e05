"""featurize on tiny frames: the label, the dropped cancellations, the time split, the weather join."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrain.domain import Domain
from retrain.domain.nycflights import data as nycflights
from retrain.domain.nycflights import schema
from retrain.params import Featurize
from retrain.pipeline import featurize


def _flights(months: list[int], arr_delay: list[float | None], years: list[int] | None = None) -> pd.DataFrame:
    years = years or [2013] * len(months)
    return pd.DataFrame(
        {
            "year": years,
            "month": months,
            "origin": "JFK",
            "arr_delay": pd.array(arr_delay, dtype="float64"),
            "time_hour": pd.to_datetime(
                [f"{y}-{m:02d}-02 15:00" for y, m in zip(years, months, strict=True)], utc=True
            ),
        }
    )


def test_label_is_arrival_later_than_threshold_and_cancelled_are_dropped(domain: Domain) -> None:
    labelled, cancelled = featurize.label(_flights([1, 1, 1, 1], [15.0, 16.0, None, -3.0]), domain)
    assert cancelled == 1
    assert labelled[domain.target].tolist() == [0, 1, 0]  # late_minutes is 15 in params.yaml


def test_split_takes_the_latest_month_as_test_window(domain: Domain) -> None:
    frame = _flights([3, 1, 2, 3, 1], [0.0] * 5)
    train, test = featurize.split(frame, domain, test_periods=1, train_periods=None)
    assert sorted(train["month"]) == [1, 1, 2]
    assert test["month"].tolist() == [3, 3]


def test_split_limits_the_training_window(domain: Domain) -> None:
    frame = _flights([1, 2, 3, 4], [0.0] * 4)
    train, test = featurize.split(frame, domain, test_periods=1, train_periods=2)
    assert train["month"].tolist() == [2, 3]
    assert test["month"].tolist() == [4]


def test_split_crosses_year_boundaries_in_order(domain: Domain) -> None:
    frame = _flights([12, 1], [0.0, 0.0], years=[2013, 2014])
    train, test = featurize.split(frame, domain, test_periods=1, train_periods=None)
    assert (train["year"].tolist(), test["year"].tolist()) == ([2013], [2014])


def test_split_cuts_months_in_the_domains_time_zone(domain: Domain) -> None:
    """A flight at 22:00 on January 31st in New York is February in UTC: it stays in January's window."""
    frame = _flights([1, 1, 2], [0.0] * 3)
    frame["time_hour"] = pd.to_datetime(["2013-01-15 15:00", "2013-02-01 03:00", "2013-02-01 05:00"], utc=True)
    train, test = featurize.split(frame, domain, test_periods=1, train_periods=None)
    assert train["time_hour"].tolist() == frame["time_hour"].iloc[:2].tolist()
    assert test["time_hour"].tolist() == frame["time_hour"].iloc[2:].tolist()


def test_split_needs_more_months_than_the_test_window(domain: Domain) -> None:
    with pytest.raises(ValueError, match="need more than 1 month"):
        featurize.split(_flights([5, 5], [0.0, 1.0]), domain, test_periods=1, train_periods=None)


def test_weather_join_matches_origin_and_hour_and_leaves_gaps_missing(domain: Domain) -> None:
    flights = _flights([1, 2], [0.0, 30.0])
    weather = pd.DataFrame({"origin": ["JFK"], "time_hour": flights["time_hour"].iloc[:1]})
    for name in schema.WEATHER_FEATURES:
        weather[name] = 1.0
    joined = domain.join(flights, {"weather": weather})
    assert len(joined) == 2
    assert joined["temp"].iloc[0] == 1.0 and np.isnan(joined["temp"].iloc[1])


def test_impossible_wind_speeds_become_missing(domain: Domain) -> None:
    weather = pd.DataFrame({"wind_speed": [10.0, 1048.4], "wind_gust": [20.0, np.nan]})
    cleaned = domain.clean(weather, **domain.config.cleaning())  # max_wind_speed 100 in params.yaml
    assert cleaned["wind_speed"].tolist()[0] == 10.0 and np.isnan(cleaned["wind_speed"].iloc[1])
    assert weather["wind_speed"].iloc[1] == 1048.4  # the input is not changed


def test_featurize_on_real_months(january: pd.DataFrame, weather: pd.DataFrame, domain: Domain) -> None:
    february = nycflights.flights(2013, 2)  # a second month is enough to split
    params = Featurize(test_periods=1, train_periods=None)
    split = featurize.featurize(pd.concat([january, february], ignore_index=True), {"weather": weather}, params, domain)
    assert set(split.stats) == {"unlabelled_dropped", "side_values_missing", "train", "test"}
    assert split.stats["unlabelled_dropped"] == int(
        january["arr_delay"].isna().sum() + february["arr_delay"].isna().sum()
    )
    assert len(split.train) == split.stats["train"]["rows"] == int(january["arr_delay"].notna().sum())
    assert len(split.test) == split.stats["test"]["rows"] == int(february["arr_delay"].notna().sum())
    late = (february["arr_delay"] > 15).sum() / february["arr_delay"].count()  # late_minutes 15, of labelled rows
    assert split.stats["test"]["positive_share"] == round(float(late), 4)
    assert split.train["temp"].notna().mean() > 0.95
    # the labelled flights with no weather reading at their origin and hour have every weather value missing
    readings = set(zip(weather["origin"], weather["time_hour"], strict=True))
    labelled = pd.concat([split.train, split.test])
    unmatched = sum(key not in readings for key in zip(labelled["origin"], labelled["time_hour"], strict=True))
    assert 0 < split.stats["side_values_missing"] == unmatched
