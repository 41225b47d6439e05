"""How raw NYC-flights rows become model inputs: the weather join (a side table joined at origin and hour), the
cleaning of impossible readings, and the stateless derived features that the Pipeline computes for every row.

The machinery calls these through `retrain.pipeline` (the Pipeline's feature step) and `featurize`; a team with
other data rewrites this module and `schema.py`, and nothing else in the loop.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from retrain.domain.nycflights import schema

DERIVED = ("day_of_week", "dep_hour", "dep_minute_of_day", "arr_minute_of_day")
NUMERIC = (*DERIVED, "distance", *schema.WEATHER_FEATURES)
"""The numeric model columns after derivation (the rest are `schema.CATEGORICAL`)."""


def _minute_of_day(hhmm: np.ndarray) -> np.ndarray:
    return np.asarray((hhmm // 100) * 60 + hhmm % 100, dtype="float64")


def _day_of_week(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Monday = 0, with numpy dates (pd.to_datetime from columns costs milliseconds per call when serving)."""
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    return np.asarray((days.astype("int64") + 3) % 7, dtype="float64")  # 1970-01-01 was a Thursday


def derive(frame: pd.DataFrame) -> pd.DataFrame:
    """Stateless features from the raw schedule columns; every other column (leaky ones included) is dropped. Built
    from numpy columns in one frame: the service runs this on every scoring call, where pandas steps cost ~0.3 ms."""
    column = {name: frame[name].to_numpy() for name in ("year", "month", "day", "sched_dep_time", "sched_arr_time")}
    derived: dict[str, Any] = {
        "day_of_week": _day_of_week(column["year"], column["month"], column["day"]),
        "dep_hour": np.asarray(column["sched_dep_time"] // 100, dtype="float64"),
        "dep_minute_of_day": _minute_of_day(column["sched_dep_time"]),
        "arr_minute_of_day": _minute_of_day(column["sched_arr_time"]),
    }
    for name in ("distance", *schema.WEATHER_FEATURES):
        derived[name] = frame[name].to_numpy(dtype="float64")
    for name in schema.CATEGORICAL:  # object, not pandas' string dtype: what the fitted encoders were given
        derived[name] = pd.Series(frame[name].to_numpy(dtype=object), index=frame.index, dtype=object)
    return pd.DataFrame(derived, index=frame.index)


def clean_weather(weather: pd.DataFrame, max_wind_speed: float) -> pd.DataFrame:
    """Readings that cannot be real (a 1,048 mph wind in the bundled data) become missing."""
    cleaned = weather.copy(deep=False)
    for name in ("wind_speed", "wind_gust"):
        values = cleaned[name].to_numpy(dtype="float64")
        cleaned[name] = np.where(values <= max_wind_speed, values, np.nan)
    return cleaned


def join_weather(flights: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
    """Each flight gets the weather at its origin in its scheduled departure hour (missing if none was recorded)."""
    readings = weather[[*schema.WEATHER_KEY, *schema.WEATHER_FEATURES]]
    return flights.merge(readings, on=list(schema.WEATHER_KEY), how="left", validate="many_to_one")


def scheduled(frame: pd.DataFrame) -> pd.Series:
    """The scheduled departure of each row in UTC, from the raw schedule columns (NaT where they name no time)."""
    dates = pd.to_datetime(frame[["year", "month", "day"]], errors="coerce")
    minutes = pd.to_timedelta(_minute_of_day(frame["sched_dep_time"].to_numpy(dtype="float64")), unit="min")
    local = (dates + minutes).dt.tz_localize(schema.LOCAL_TIME, ambiguous="NaT", nonexistent="NaT")
    return local.dt.tz_convert("UTC")


def check_record(values: Mapping[str, Any]) -> None:
    """A request's year, month and day must be a date."""
    try:
        datetime.date(values["year"], values["month"], values["day"])
    except ValueError as error:
        raise ValueError(f"year/month/day is not a date: {error}") from None
