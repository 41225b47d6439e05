"""The dask engine's plumbing: a stage's per-partition function as one task per partition, and a large output
written as the same parts as the local engine's (`files.write_parts`: `partition_rows` rows each, in row order),
whatever the partitions of the work were.

The tasks run on the cluster that `retrain.io.cluster.connect` made the default; the stage computes them together,
so that the scheduler reads each input once and frees a partition as soon as the parts that need it are written.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dask.base import annotate
from dask.base import compute as dask_compute
from dask.delayed import Delayed, delayed

from retrain.io import files


def in_order(number: int) -> contextlib.AbstractContextManager[None]:
    """Tasks made in this block run before those made for a later `number` (Dask's priority; the tasks of one
    number keep the order Dask gives them). Ranges are read in row order, so that a part that `write_parts` cuts
    from two neighbouring ranges is written as soon as both are made: the workers hold a few ranges, not the table."""
    return annotate(priority=-number)


def frames(ranges: Sequence[files.Rows], columns: list[str] | None = None) -> list[Delayed]:
    """Each range's rows (of `columns`, else all), read by the worker that needs them, in row order (`in_order`)."""
    work = []
    for number, rows in enumerate(ranges):
        with in_order(number):
            work.append(delayed(files.read_rows)(rows, columns))
    return work


def tasks(
    function: Callable[..., Any], ranges: Sequence[files.Rows], *args: Any, columns: list[str] | None = None
) -> list[Delayed]:
    """`function(frame, *args)` on each range's rows (`frames`), in row order."""
    work = []
    for number, frame in enumerate(frames(ranges, columns)):
        with in_order(number):
            work.append(delayed(function)(frame, *args))
    return work


def compute(*work: Any) -> Any:
    """Run tasks (lists of them, nested) on the default cluster; their results, in the same shape."""
    return dask_compute(*work)


SAMPLES = 16
"""Values of the sort's first column taken from each range, to cut the buckets by (`sort`)."""


def _samples(frame: pd.DataFrame, column: str) -> pd.Series:
    ordered = frame[column].sort_values()
    return ordered.iloc[np.linspace(0, len(ordered) - 1, SAMPLES).astype(int)] if len(ordered) else ordered


def _spread(frame: pd.DataFrame, column: str, bounds: pd.Index, path: str) -> dict[int, files.Rows]:
    """Write a range's rows as the file `path`, ordered (stably) by the bucket their `column` falls in, a row group
    per bucket; each bucket's rows in that file, in bucket order."""
    which = bounds.searchsorted(frame[column], side="right")
    buckets, counts = np.unique(which, return_counts=True)
    files.write_groups(frame.iloc[np.argsort(which, kind="stable")], counts.tolist(), Path(path))
    stops = np.cumsum(counts).tolist()
    return {
        bucket: files.Rows(path, stop - count, stop)
        for bucket, count, stop in zip(buckets.tolist(), counts.tolist(), stops, strict=True)
    }


def _bucket(pieces: list[files.Rows], by: list[str]) -> pd.DataFrame:
    return pd.concat([files.read_rows(rows) for rows in pieces], ignore_index=True).sort_values(by, kind="stable")


def sort(ranges: Sequence[files.Rows], by: list[str], folder: Path) -> tuple[list[Delayed], list[int]]:
    """The rows of `ranges` in the order of a stable sort of their concatenation by `by` (pandas' order), as tasks of
    sorted buckets and their lengths (for `write_parts`), no worker holding more than about a range: every range is
    written again in `folder` (which the caller removes) with its rows grouped by the bucket their `by[0]` falls in,
    the buckets cut at values sampled from all ranges; then each bucket's groups are read, in range order, and
    sorted. (Dask's `sort_values`, measured here, grows each worker's memory with the table until its shuffle's
    barrier: 2.1 GiB at 100x the bundled data; and it does not keep the order of ties.)"""
    column = by[0]
    (samples,) = compute(tasks(_samples, ranges, column, columns=[column]))
    every = pd.concat(samples).sort_values()
    bounds = pd.Index(every.iloc[SAMPLES::SAMPLES].drop_duplicates())  # a range's rows per bucket, but for ties
    shutil.rmtree(folder, ignore_errors=True)
    target = str(folder.resolve() / files.PART)
    (spread,) = compute(
        [delayed(_spread)(frame, column, bounds, target.format(number)) for number, frame in enumerate(frames(ranges))]
    )
    pieces: dict[int, list[files.Rows]] = {}
    for found in spread:  # in range order
        for bucket, rows in found.items():
            pieces.setdefault(bucket, []).append(rows)
    if not pieces:  # no rows: one empty frame, with the columns
        return frames(ranges[:1]), [0]
    buckets, lengths = [], []
    for number, bucket in enumerate(sorted(pieces)):
        with in_order(number):
            buckets.append(delayed(_bucket)(pieces[bucket], by))
        lengths.append(sum(rows.stop - rows.start for rows in pieces[bucket]))
    return buckets, lengths


def _write(pieces: list[tuple[pd.DataFrame, int, int]], target: str) -> int:
    frame = pd.concat([piece.iloc[start:stop] for piece, start, stop in pieces])
    files.write_frame(frame, Path(target))
    return len(frame)


def write_parts(frames: Sequence[Delayed], lengths: Sequence[int], staged: Path, rows: int) -> list[Delayed]:
    """Tasks that write the concatenation of `frames` (whose lengths are known) into the empty folder `staged` as
    parts of `rows` rows (`files.write_parts`' layout); `files.replace` then puts the folder in place."""
    total, work, offsets = sum(lengths), [], [sum(lengths[:i]) for i in range(len(lengths))]
    for number, start in enumerate(range(0, max(total, 1), rows)):
        stop = min(start + rows, total)
        pieces = [
            (frame, max(start - offset, 0), min(stop - offset, length))
            for frame, offset, length in zip(frames, offsets, lengths, strict=True)
            if offset < stop and offset + length > start
        ] or [(frames[0], 0, 0)]  # an empty table: one empty part, with the table's columns
        with annotate(priority=1):  # before any other range is read: then its pieces are freed
            work.append(delayed(_write)(pieces, str(staged.resolve() / files.PART.format(number))))
    return work
