"""How raw NYC-flights rows become model inputs: the weather join (a side table joined at origin and hour), the
cleaning of impossible readings, and the stateless derived features that the Pipeline computes for every row.

The machinery calls these through `retrain.pipeline` (the Pipeline's feature step) and `featurize`; a team with
other data rewrites this module and `schema.py`, and nothing else in the loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrain.domain import schema

DERIVED = ("day_of_week", "dep_hour", "dep_minute_of_day", "arr_minute_of_day")
NUMERIC = (*DERIVED, "distance", *schema.WEATHER_FEATURES)
"""The numeric model columns after derivation (the rest are `schema.CATEGORICAL`)."""


def _minute_of_day(hhmm: pd.Series) -> pd.Series:
    return (hhmm // 100) * 60 + hhmm % 100


def _day_of_week(year: pd.Series, month: pd.Series, day: pd.Series) -> np.ndarray:
    """Monday = 0, with numpy dates (pd.to_datetime from columns costs milliseconds per call when serving)."""
    months = ((year.to_numpy() - 1970) * 12 + month.to_numpy() - 1).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (day.to_numpy() - 1).astype("timedelta64[D]")
    return np.asarray((days.astype("int64") + 3) % 7, dtype="float64")  # 1970-01-01 was a Thursday


def derive(frame: pd.DataFrame) -> pd.DataFrame:
    """Stateless features from the raw schedule columns; every other column (leaky ones included) is dropped."""
    derived = pd.DataFrame(
        {
            "day_of_week": _day_of_week(frame["year"], frame["month"], frame["day"]),
            "dep_hour": (frame["sched_dep_time"] // 100).astype("float64"),
            "dep_minute_of_day": _minute_of_day(frame["sched_dep_time"]).astype("float64"),
            "arr_minute_of_day": _minute_of_day(frame["sched_arr_time"]).astype("float64"),
        },
        index=frame.index,
    )
    numeric = frame[["distance", *schema.WEATHER_FEATURES]].astype("float64")
    categorical = frame[list(schema.CATEGORICAL)].astype(object)
    return pd.concat([derived, numeric, categorical], axis=1)


def clean_weather(weather: pd.DataFrame, max_wind_speed: float) -> pd.DataFrame:
    """Readings that cannot be real (a 1,048 mph wind in the bundled data) become missing."""
    cleaned = weather.copy()
    for name in ("wind_speed", "wind_gust"):
        cleaned[name] = cleaned[name].where(cleaned[name] <= max_wind_speed)
    return cleaned


def join_weather(flights: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
    """Each flight gets the weather at its origin in its scheduled departure hour (missing if none was recorded)."""
    readings = weather[[*schema.WEATHER_KEY, *schema.WEATHER_FEATURES]]
    return flights.merge(readings, on=list(schema.WEATHER_KEY), how="left", validate="many_to_one")
