"""Batch periods: one batch file per day, ISO week or month (`Domain.period`), named for it (2013-07-01.parquet,
2013-W27.parquet, 2013-07.parquet); a row belongs to the period of its time in the domain's time zone. Windows, tuning
folds and per-period plots count in the same periods."""

from __future__ import annotations

import datetime
import re

import pandas as pd

from retrain.domain import Period

PATTERN = {
    "day": re.compile(r"(\d{4})-(\d{2})-(\d{2})"),
    "week": re.compile(r"(\d{4})-W(\d{2})"),
    "month": re.compile(r"(\d{4})-(\d{2})"),
}
FORM = {"day": "YYYY-MM-DD", "week": "YYYY-Www (ISO week)", "month": "YYYY-MM"}


def start(name: str, period: Period) -> pd.Timestamp | None:
    """The first day of the period a label (a batch file's name without `.parquet`) names, None when it names none."""
    match = PATTERN[period].fullmatch(name)
    if match is None:
        return None
    numbers = [int(part) for part in match.groups()]
    try:
        if period == "week":
            return pd.Timestamp(datetime.date.fromisocalendar(numbers[0], numbers[1], 1))
        return pd.Timestamp(datetime.date(numbers[0], numbers[1], numbers[2] if period == "day" else 1))
    except ValueError:
        return None


def label(first_day: pd.Timestamp, period: Period) -> str:
    """The name of the period that starts on `first_day`."""
    return first_day.strftime({"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}[period])


def starts(times: pd.Series, period: Period, timezone: str) -> pd.Series:
    """The first day of each row's period, for UTC times (naive ones are taken as UTC), in the domain's zone."""
    utc = times.dt.tz_localize("UTC") if times.dt.tz is None else times
    day = utc.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    if period == "day":
        return pd.Series(day, index=times.index)
    back = day.dt.day_of_week if period == "week" else day.dt.day - 1
    return pd.Series(day - pd.to_timedelta(back, unit="D"), index=times.index)


def labels(times: pd.Series, period: Period, timezone: str) -> pd.Series:
    """Each row's period name (formatted once per distinct period)."""
    first = starts(times, period, timezone)
    names = {value: label(value, period) for value in first.dropna().unique()}
    return first.map(names)
