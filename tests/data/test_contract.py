"""The data contract rejects each kind of bad batch with a message naming the file, the column and the rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from retrain.params import Params
from retrain.pipeline import validate
from retrain.results import Violation

FILE = "data/landing/2013-01.parquet"
Mutation = Callable[[pd.DataFrame], pd.DataFrame]


def _set(column: str, value: Any, rows: slice = slice(0, 3)) -> Mutation:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame.index[rows], column] = value
        return frame

    return mutate


def _february_30(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.index[:3], ["month", "day"]] = [2, 30]
    return frame


def _as_strings(column: str) -> Mutation:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(str)
        return frame

    return mutate


def _late_everywhere(frame: pd.DataFrame) -> pd.DataFrame:
    frame["arr_delay"] = 120.0
    return frame


def _many_nulls(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.index[: len(frame) // 2], "tailnum"] = None
    return frame


def _duplicate(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.head(2)], ignore_index=True)


BAD_BATCHES: dict[str, tuple[Mutation, str, str]] = {
    "missing column": (lambda f: f.drop(columns=["carrier"]), "carrier", "required column is missing"),
    "unknown column": (lambda f: f.assign(gate="A1"), "gate", "unknown column"),
    "string in numeric column": (_as_strings("distance"), "distance", "dtype must be int"),
    "month out of range": (_set("month", 13), "month", "<= 12"),
    "day invalid for month": (_february_30, "day", "valid day of the month"),
    "scheduled time not hhmm": (_set("sched_dep_time", 1275), "sched_dep_time", "valid hhmm"),
    "scheduled arrival past midnight": (_set("sched_arr_time", 2475), "sched_arr_time", "<= 2400"),
    "distance not positive": (_set("distance", 0), "distance", ">= 1"),
    "unknown origin": (_set("origin", "BOS"), "origin", "one of EWR, JFK, LGA"),
    "null in required column": (_set("dest", None), "dest", "must not be null"),
    "malformed carrier code": (_set("carrier", "united"), "carrier", "matches"),
    "duplicate flight key": (_duplicate, "flight", "flight key is unique"),
    "too few rows": (lambda f: f.head(50), "*", "at least"),
    "too many nulls": (_many_nulls, "tailnum", "null rate"),
    "implausible late share": (_late_everywhere, "arr_delay", "share of arrivals"),
    "rows of another month": (_set("month", 2), "month", "batch's month 2013-01"),
    "hour disagrees with schedule": (_set("hour", 3), "hour", "match sched_dep_time"),
    "time_hour not the scheduled hour": (
        _set("time_hour", pd.Timestamp("2013-01-05 12:00", tz="UTC")),
        "time_hour",
        "UTC",
    ),
    "negative air time": (_set("air_time", -5.0), "air_time", ">= 0"),
}


def _check(frame: pd.DataFrame, params: Params, file: str = FILE) -> list[Violation]:
    return validate.check_flights(file, frame, params.validate_, params.featurize.late_minutes)[0]


def test_a_real_batch_passes(january: pd.DataFrame, weather: pd.DataFrame, params: Params) -> None:
    report = validate.validate({FILE: january}, ("data/weather.parquet", weather), params.validate_, 15)
    assert report.passed, [v.message() for v in report.violations]
    assert report.batches[0].rows == len(january)


@pytest.mark.parametrize("kind", sorted(BAD_BATCHES))
def test_each_kind_of_bad_batch_is_rejected(kind: str, january: pd.DataFrame, params: Params) -> None:
    mutate, column, rule = BAD_BATCHES[kind]
    violations = _check(mutate(january), params)
    matching = [v for v in violations if v.column == column and rule in v.rule]
    assert matching, f"{kind}: expected column {column!r} rule ~{rule!r}, got {[v.message() for v in violations]}"
    message = matching[0].message()
    assert FILE in message and column in message and rule in message


def test_messages_quote_a_few_offending_rows(january: pd.DataFrame, params: Params) -> None:
    january.loc[january.index[:20], "distance"] = -1
    (violation,) = [v for v in _check(january, params) if v.column == "distance"]
    assert violation.rows == 20
    assert len(violation.examples) == params.validate_.examples
    assert violation.examples[0]["distance"] == -1
    assert {"row", "carrier", "flight"} <= set(violation.examples[0])


def test_file_name_sets_the_expected_month(january: pd.DataFrame, params: Params) -> None:
    violations = _check(january, params, file="data/landing/2013-02.parquet")
    assert any(v.rule.startswith("rows belong to the batch's month 2013-02") for v in violations)


def test_weather_with_duplicate_hours_is_rejected(weather: pd.DataFrame, params: Params) -> None:
    doubled = pd.concat([weather, weather.head(1)], ignore_index=True)
    violations = validate.check_weather("data/weather.parquet", doubled, params.validate_)
    assert [v.rule for v in violations] == ["one reading per origin and hour"]


def test_weather_out_of_range_is_rejected(weather: pd.DataFrame, params: Params) -> None:
    weather.loc[0, "humid"] = np.float64(140)
    (violation,) = validate.check_weather("data/weather.parquet", weather, params.validate_)
    assert (violation.column, violation.rule, violation.rows) == ("humid", "<= 100", 1)
