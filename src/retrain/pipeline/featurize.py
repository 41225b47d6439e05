"""Stage `featurize`: the domain's side-table join, the label and the time split.

Nothing here is fitted: every learned transformation lives in the Pipeline (`model.py`), so the service scores
raw rows with the same object.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from dask.delayed import delayed

from retrain.domain import Domain, load_domain, periods
from retrain.errors import BadInput
from retrain.io import cluster, files
from retrain.params import Featurize, Params
from retrain.pipeline import partitioned
from retrain.pipeline.validate import read_sides

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bounds:
    """Where the windows start: the first period of training, the first of the test window."""

    train: pd.Timestamp
    test: pd.Timestamp


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    stats: dict[str, Any]


def label(rows: pd.DataFrame, domain: Domain) -> tuple[pd.DataFrame, int]:
    """Add the domain's target, made from its outcome; drop the rows whose outcome is not known."""
    known = rows[domain.outcome].notna()
    labelled = rows.loc[known].copy()
    labelled[domain.target] = domain.labelled(labelled[domain.outcome])
    return labelled.reset_index(drop=True), int((~known).sum())


def bounds(starts: Iterable[pd.Timestamp], period: str, test_periods: int, train_periods: int | None) -> Bounds:
    """The first period of the training window and of the test window, from the periods the labelled rows cover: the
    most recent `test_periods` are the test window, up to `train_periods` before it train."""
    distinct = sorted(set(starts))
    if len(distinct) <= test_periods:
        raise ValueError(f"need more than {test_periods} {period}(s) of data to split, found {len(distinct)}")
    test_start = distinct[-test_periods]
    return Bounds(distinct[:-test_periods][-train_periods] if train_periods else distinct[0], test_start)


def split(
    frame: pd.DataFrame, domain: Domain, test_periods: int, train_periods: int | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training and test windows of labelled rows (`bounds`)."""
    starts = periods.starts(frame[domain.time], domain.period, domain.timezone)
    return cut(frame, starts, bounds(starts.unique(), domain.period, test_periods, train_periods))


def cut(frame: pd.DataFrame, starts: pd.Series, window: Bounds) -> tuple[pd.DataFrame, pd.DataFrame]:
    train = frame.loc[(starts >= window.train) & (starts < window.test)].reset_index(drop=True)
    test = frame.loc[starts >= window.test].reset_index(drop=True)
    return train, test


def summary(frame: pd.DataFrame, domain: Domain) -> dict[str, Any]:
    """What `window` reports of a window, as sums over its rows (so that partitions' summaries add up)."""
    return {
        "rows": len(frame),
        "first": frame[domain.time].min(),
        "last": frame[domain.time].max(),
        "positives": int(frame[domain.target].sum()),
    }


def window(summaries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Rows, first and last time, and the positive share of a window of labelled rows, from its partitions'
    summaries."""
    parts = list(summaries)
    rows, positives = sum(part["rows"] for part in parts), sum(part["positives"] for part in parts)
    return {
        "rows": rows,
        "first": str(pd.Series([part["first"] for part in parts]).min()),
        "last": str(pd.Series([part["last"] for part in parts]).max()),
        "positive_share": round(positives / rows, 4) if rows else float("nan"),
    }


def labelled_periods(rows: pd.DataFrame, domain: Domain) -> pd.Series:
    """How many rows with a known outcome each period holds (by its start): what the windows are cut by."""
    known = rows[domain.outcome].notna()
    return periods.starts(rows.loc[known, domain.time], domain.period, domain.timezone).value_counts()


def windows(
    rows: pd.DataFrame, sides: Mapping[str, pd.DataFrame], domain: Domain, window: Bounds
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The training and test rows of some validated rows (all of them, or one partition: row by row, the same), and
    their sums: the side-table join, the label, the cut by time."""
    joined = domain.join(rows.reset_index(drop=True), sides)  # raw values: cleaning is the Pipeline's first step
    labelled, unlabelled = label(joined, domain)
    train, test = cut(labelled, periods.starts(labelled[domain.time], domain.period, domain.timezone), window)
    side_features = [name for name in domain.features if name not in rows.columns]
    sums = {
        "unlabelled_dropped": unlabelled,
        "side_values_missing": int(labelled[side_features].isna().all(axis=1).sum()) if side_features else 0,
        "train": summary(train, domain),
        "test": summary(test, domain),
    }
    return train, test, sums


def stats(sums: list[dict[str, Any]]) -> dict[str, Any]:
    """data.json: the partitions' sums added up."""
    return {
        "unlabelled_dropped": sum(part["unlabelled_dropped"] for part in sums),
        "side_values_missing": sum(part["side_values_missing"] for part in sums),
        "train": window(part["train"] for part in sums),
        "test": window(part["test"] for part in sums),
    }


def featurize(batches: pd.DataFrame, sides: Mapping[str, pd.DataFrame], params: Featurize, domain: Domain) -> Split:
    """Validated batches and side tables (by table name) in, training and test windows (raw model columns + label)
    out. Side-table values that no row matched stay missing (counted per feature)."""
    window = bounds(labelled_periods(batches, domain).index, domain.period, params.test_periods, params.train_periods)
    train, test, sums = windows(batches, sides, domain, window)
    return Split(train, test, stats([sums]))


def side_tables(folder: Path, domain: Domain) -> dict[str, pd.DataFrame]:
    """The side tables by their names."""
    return dict(zip((table.name for table in domain.sides), read_sides(folder, domain).values(), strict=True))


def run(params: Params, root: Path) -> None:
    """Stage featurize: join the side tables, label, split by time."""
    if params.engine == "dask":
        run_on_cluster(params)
        return
    paths, domain = params.paths, load_domain(params)
    split = featurize(files.read_frame(paths.validated), side_tables(paths.sides, domain), params.featurize, domain)
    files.write_parts(split.train, paths.train, params.partition_rows)
    files.write_parts(split.test, paths.test, params.partition_rows)
    files.write_json(split.stats, paths.data_metrics)
    log.info("featurize: %d training rows, %d test rows", len(split.train), len(split.test))


def run_on_cluster(params: Params) -> None:
    """Stage featurize on the cluster (`engine: dask`): each worker reads, joins, labels and cuts its own partitions
    of the validated batches, and writes the parts of the windows they fall in: the same files as `run`."""
    paths, domain, rows = params.paths, load_domain(params), params.partition_rows
    ranges = files.row_ranges(paths.validated, rows)
    with cluster.connect():
        (counts,) = partitioned.compute(
            partitioned.tasks(labelled_periods, ranges, domain, columns=[domain.outcome, domain.time])
        )
        found = [start for part in counts for start in part.index]
        window = bounds(found, domain.period, params.featurize.test_periods, params.featurize.train_periods)
        lengths = [
            (
                int(part[(part.index >= window.train) & (part.index < window.test)].sum()),
                int(part[part.index >= window.test].sum()),
            )
            for part in counts
        ]
        sides = delayed(side_tables)(paths.sides.resolve(), domain)  # one task: the workers share what it read
        parts: list[Any] = partitioned.tasks(windows, ranges, sides, domain, window)  # each a (train, test, sums)
        staged = {path: files.staging(path) for path in (paths.train, paths.test)}
        *_, sums = partitioned.compute(
            partitioned.write_parts([part[0] for part in parts], [n for n, _ in lengths], staged[paths.train], rows),
            partitioned.write_parts([part[1] for part in parts], [n for _, n in lengths], staged[paths.test], rows),
            [part[2] for part in parts],
        )
    if [(part["train"]["rows"], part["test"]["rows"]) for part in sums] != lengths:
        for folder in staged.values():
            shutil.rmtree(folder)
        raise BadInput(
            f"{domain.name}: the domain's join changed the number of rows of a partition (on the dask engine it "
            "must keep each batch row once, in order)"
        )
    for path, folder in staged.items():
        files.replace(folder, path)
    files.write_json(stats(list(sums)), paths.data_metrics)
    log.info("featurize: %d training rows, %d test rows", sum(n for n, _ in lengths), sum(n for _, n in lengths))
