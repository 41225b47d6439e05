"""The dask engine's plumbing: a stage's per-partition function as one task per partition, and a large output
written as the same parts as the local engine's (`files.write_parts`: `partition_rows` rows each, in row order),
whatever the partitions of the work were.

The tasks run on the cluster that `retrain.io.cluster.connect` made the default; the stage computes them together,
so that the scheduler reads each input once and frees a partition as soon as the parts that need it are written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from dask.base import compute as dask_compute
from dask.delayed import Delayed, delayed

from retrain.io import files


def frames(ranges: Sequence[files.Rows], columns: list[str] | None = None) -> list[Delayed]:
    """Each range's rows (of `columns`, else all), read by the worker that needs them."""
    return [delayed(files.read_rows)(rows, columns) for rows in ranges]


def tasks(
    function: Callable[..., Any], ranges: Sequence[files.Rows], *args: Any, columns: list[str] | None = None
) -> list[Delayed]:
    """`function(frame, *args)` on each range's rows (`frames`)."""
    return [delayed(function)(frame, *args) for frame in frames(ranges, columns)]


def compute(*work: Any) -> Any:
    """Run tasks (lists of them, nested) on the default cluster; their results, in the same shape."""
    return dask_compute(*work)


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
        work.append(delayed(_write)(pieces, str(staged.resolve() / files.PART.format(number))))
    return work
