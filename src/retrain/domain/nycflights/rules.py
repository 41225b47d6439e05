"""The data contract's rules that tie columns together (the per-column rules are in `schema.py`; one row per key and
a batch holding only its own month are the machinery's): dates that exist, `hour`/`minute` agreeing with
`sched_dep_time`, `time_hour` being the scheduled hour in UTC. `validate` applies them; each is a `Rule`."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from retrain.domain import Rule
from retrain.domain.nycflights import schema


def flight_rules(frame: pd.DataFrame, typed: set[str]) -> Iterator[Rule]:
    """The cross-column rules of a flights batch, over the columns whose dtype is right."""
    if not {"year", "month", "day"} <= typed:
        return
    dates = pd.to_datetime(frame[["year", "month", "day"]], errors="coerce")
    yield "day", "valid day of the month", dates.isna(), ("year", "month")
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
