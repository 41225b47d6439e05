"""The data contract rejects each kind of bad batch with a message naming the file, the column and the rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from retrain.domain import Domain
from retrain.params import Params
from retrain.pipeline import validate
from retrain.results import Violation

FILE = "data/landing/2013-01.parquet"
WEATHER = "data/side/weather.parquet"
FLIGHT_KEY = "year+month+day+carrier+flight+origin"
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
    "duplicate flight key": (_duplicate, FLIGHT_KEY, "key is unique"),
    "too few rows": (lambda f: f.head(50), "*", "at least"),
    "too many nulls": (_many_nulls, "tailnum", "null rate"),
    "implausible late share": (_late_everywhere, "arr_delay", "share of late flights within [0.05, 0.6]"),
    # the batch's month is cut in local time: 2013-02-01 05:00 UTC is midnight of February 1st in New York
    "rows of another month": (
        _set("time_hour", pd.Timestamp("2013-02-01 05:00", tz="UTC")),
        "time_hour",
        "rows belong to the batch's month 2013-01 (America/New_York)",
    ),
    "hour disagrees with schedule": (_set("hour", 3), "hour", "match sched_dep_time"),
    "time_hour not the scheduled hour": (
        _set("time_hour", pd.Timestamp("2013-01-05 12:00", tz="UTC")),
        "time_hour",
        "UTC",
    ),
    "negative air time": (_set("air_time", -5.0), "air_time", ">= 0"),
}


def _check(frame: pd.DataFrame, params: Params, domain: Domain, file: str = FILE) -> list[Violation]:
    violations: list[Violation] = validate.check_batch(file, frame, params.validate_, domain)[0]
    return violations


def test_a_real_batch_passes(january: pd.DataFrame, weather: pd.DataFrame, params: Params, domain: Domain) -> None:
    # its last evening is already February in UTC: the batch's month is New York's
    assert (january["time_hour"] >= pd.Timestamp("2013-02-01", tz="UTC")).any()
    report = validate.validate({FILE: january}, {WEATHER: weather}, params.validate_, domain)
    assert report.passed, [v.message() for v in report.violations]
    (summary,) = report.batches
    assert (summary.rows, summary.passed) == (len(january), True)
    assert summary.unlabelled == int(january["arr_delay"].isna().sum())
    assert summary.positive_share == round(float((january["arr_delay"] > 15).sum() / january["arr_delay"].count()), 4)


@pytest.mark.parametrize("kind", sorted(BAD_BATCHES))
def test_each_kind_of_bad_batch_is_rejected(kind: str, january: pd.DataFrame, params: Params, domain: Domain) -> None:
    mutate, column, rule = BAD_BATCHES[kind]
    violations = _check(mutate(january), params, domain)
    matching = [v for v in violations if v.column == column and rule in v.rule]
    assert matching, f"{kind}: expected column {column!r} rule ~{rule!r}, got {[v.message() for v in violations]}"
    message = matching[0].message()
    assert FILE in message and column in message and rule in message


def test_messages_quote_a_few_offending_rows(january: pd.DataFrame, params: Params, domain: Domain) -> None:
    january.loc[january.index[:20], "distance"] = -1
    (violation,) = [v for v in _check(january, params, domain) if v.column == "distance"]
    assert violation.rows == 20
    assert len(violation.examples) == params.validate_.examples
    assert violation.examples[0]["distance"] == -1
    assert {"row", "carrier", "flight"} <= set(violation.examples[0])


def test_file_name_sets_the_expected_month(january: pd.DataFrame, params: Params, domain: Domain) -> None:
    assert not _check(january, params, domain)
    violations = _check(january, params, domain, file="data/landing/2013-02.parquet")
    (violation,) = [v for v in violations if v.rule.startswith("rows belong to the batch's month 2013-02")]
    assert (violation.column, violation.rows) == ("time_hour", len(january))


def test_weather_with_duplicate_hours_is_rejected(weather: pd.DataFrame, params: Params, domain: Domain) -> None:
    doubled = pd.concat([weather, weather.head(1)], ignore_index=True)
    violations = validate.check_side(WEATHER, doubled, params.validate_, domain.sides[0])
    assert [(v.column, v.rule, v.rows) for v in violations] == [("origin+time_hour", "key is unique", 2)]


def test_weather_out_of_range_is_rejected(weather: pd.DataFrame, params: Params, domain: Domain) -> None:
    weather.loc[0, "humid"] = np.float64(140)
    (violation,) = validate.check_side(WEATHER, weather, params.validate_, domain.sides[0])
    assert (violation.column, violation.rule, violation.rows) == ("humid", "<= 100", 1)
