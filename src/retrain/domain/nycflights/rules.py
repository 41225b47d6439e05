"""The data contract's rules that tie columns together (the per-column rules are in `schema.py`): dates that
exist, a batch holding only its own month, `hour`/`minute` agreeing with `sched_dep_time`, `time_hour` being the
scheduled hour in UTC, and one row per key. `validate` applies them; each is (column, rule, bad rows, shown)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from retrain.domain.nycflights import schema

Rule = tuple[str, str, pd.Series, tuple[str, ...]]


def flight_rules(frame: pd.DataFrame, typed: set[str], month: tuple[int, int] | None) -> Iterator[Rule]:
    """The cross-column rules of a monthly flights batch, over the columns whose dtype is right."""
    if set(schema.FLIGHT_KEY) <= typed:
        yield "flight", "flight key is unique", frame.duplicated(list(schema.FLIGHT_KEY), keep=False), ()
    if not {"year", "month", "day"} <= typed:
        return
    dates = pd.to_datetime(frame[["year", "month", "day"]], errors="coerce")
    yield "day", "valid day of the month", dates.isna(), ("year", "month")
    if month is not None:
        outside = (frame["year"] != month[0]) | (frame["month"] != month[1])
        yield "month", f"rows belong to the batch's month {month[0]}-{month[1]:02d}", outside, ("year",)
    if {"sched_dep_time", "hour", "minute"} <= typed:
        mismatch = (frame["hour"] != frame["sched_dep_time"] // 100) | (
            frame["minute"] != frame["sched_dep_time"] % 100
        )
        yield "hour", "hour and minute match sched_dep_time", mismatch, ("sched_dep_time", "minute")
    if {"time_hour", "hour"} <= typed:
        times = frame["time_hour"]
        local = times.dt.tz_convert(schema.LOCAL_TIME) if times.dt.tz else times
        wrong = (local.dt.day != frame["day"]) | (local.dt.hour != frame["hour"]) | (local.dt.month != frame["month"])
        yield "time_hour", f"is the scheduled hour ({schema.LOCAL_TIME}) in UTC", wrong & dates.notna(), ("hour",)


def weather_rules(frame: pd.DataFrame, typed: set[str]) -> Iterator[Rule]:
    """The cross-column rules of the hourly weather table."""
    if set(schema.WEATHER_KEY) <= typed:
        yield "time_hour", "one reading per origin and hour", frame.duplicated(list(schema.WEATHER_KEY), keep=False), ()
