"""Files and formats: parquet frames, JSON documents, JSON-lines folders, md5s and in-place YAML edits."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retrain.errors import BadInput


class InputError(BadInput):
    """A file the pipeline needs is missing or unreadable; the message names it."""


PART = "part-{:05d}.parquet"
"""The name of a large table's parts, in row order (`write_parts`)."""
BATCH_ROWS = 1 << 16
"""The rows `read_rows` decodes at a time."""


def read_frame(path: Path) -> pd.DataFrame:
    """Read a parquet file, or a folder of parts (`write_parts`) as one frame, naming the file if that fails."""
    if path.is_dir():
        if not parts(path):
            raise InputError(f"{path}: no part-*.parquet in the folder")
        return pd.concat([read_frame(part) for part in parts(path)], ignore_index=True)
    try:
        return pd.read_parquet(path)
    except FileNotFoundError as error:
        raise InputError(f"{path}: file not found") from error
    except Exception as error:  # pyarrow raises several types for a corrupt file
        raise InputError(f"{path}: not a readable parquet file ({error})") from error


def parts(path: Path) -> list[Path]:
    """The files of a table: a folder's parts in row order, or the single file."""
    return sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]


@dataclass(frozen=True)
class Rows:
    """Rows [start, stop) of a parquet file: a partition that a cluster's worker reads for itself (`read_rows`)."""

    path: str
    start: int
    stop: int


def row_ranges(path: Path, rows: int) -> list[Rows]:
    """A parquet file's rows in ranges of `rows` (one range if it is empty), or a folder's parts, each whole; by
    absolute path, for a worker whose working directory is not this one."""
    ranges = []
    for part in parts(path):
        try:
            total = pq.ParquetFile(part).metadata.num_rows
        except Exception as error:  # pyarrow raises several types for a missing or corrupt file
            raise InputError(f"{part}: not a readable parquet file ({error})") from error
        step = total if path.is_dir() else rows
        ranges += [
            Rows(str(part.resolve()), start, min(start + step, total)) for start in range(0, max(total, 1), step or 1)
        ]
    return ranges


def read_rows(rows: Rows, columns: list[str] | None = None) -> pd.DataFrame:
    """A range of a parquet file's rows, indexed by their row in the file; the same values and dtypes as
    `read_frame`. The file's batches are decoded in turn from the first row group holding the range, and reading stops
    after it: a range of a file written as one large row group costs the range, not the group."""
    file = pq.ParquetFile(rows.path)
    groups: list[int] = []
    first = offset = 0
    for number in range(file.metadata.num_row_groups):
        size = file.metadata.row_group(number).num_rows
        if offset < rows.stop and offset + size > rows.start:
            if not groups:
                first = offset
            groups.append(number)
        offset += size
    kept, offset = [], first
    for batch in file.iter_batches(BATCH_ROWS, groups, columns) if groups else []:
        if offset + batch.num_rows > rows.start:
            kept.append(batch.slice(max(rows.start - offset, 0), rows.stop - max(rows.start, offset)))
        offset += batch.num_rows
        if offset >= rows.stop:
            break
    whole = file.schema_arrow  # its metadata: the pandas dtypes
    schema = whole if columns is None else pa.schema([whole.field(name) for name in columns], metadata=whole.metadata)
    table = pa.Table.from_batches(kept, schema)
    frame: pd.DataFrame = table.to_pandas()
    frame.index = pd.RangeIndex(rows.start, rows.start + len(frame))
    return frame


def schema_frame(path: Path) -> pd.DataFrame:
    """An empty frame with a parquet table's columns and dtypes (of its first part)."""
    frame: pd.DataFrame = pq.read_schema(parts(path)[0]).empty_table().to_pandas()
    return frame


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame as parquet, deterministically (same frame, same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False, compression="zstd")


def write_groups(frame: pd.DataFrame, sizes: list[int], path: Path) -> None:
    """Write a frame as one parquet file whose row groups hold its rows `sizes` at a time, in order, so that
    `read_rows` reads one group back alone; as `write_frame` writes it otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        for start, size in zip(itertools.accumulate([0, *sizes]), sizes, strict=False):
            writer.write_table(table.slice(start, size), row_group_size=size)


def write_parts(frame: pd.DataFrame, path: Path, rows: int) -> None:
    """Write a large table as the folder `path` of parquet parts of `rows` rows each, in row order (the last may be
    shorter; an empty frame is one empty part), replacing what was there (a folder, or the single file of older
    commits) once every part is written: the same frame and `rows` give the same files, whatever process wrote them."""
    staged = staging(path)
    for number, start in enumerate(range(0, max(len(frame), 1), rows)):
        write_frame(frame.iloc[start : start + rows], staged / PART.format(number))
    replace(staged, path)


def staging(path: Path) -> Path:
    """An empty folder beside `path` to write its parts in (`replace` then puts it in place)."""
    staged = path.with_name(path.name + ".tmp")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    return staged


def replace(staged: Path, path: Path) -> None:
    """Put a staged folder of parts in the place of `path` (a folder, or the single file of older commits)."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    staged.rename(path)


def batch_paths(landing: Path, is_batch: Callable[[str], bool], form: str) -> list[Path]:
    """The batch files in the landing folder, oldest first (their names are their periods: `form`.parquet); any
    other parquet name is an error."""
    if not landing.is_dir():
        raise InputError(f"{landing}: landing folder not found (run `make data`)")
    files = sorted(landing.glob("*.parquet"))
    wrong = [path.name for path in files if not is_batch(path.name)]
    if wrong:
        raise InputError(f"{landing}: batch files must be named {form}.parquet, found {', '.join(wrong)}")
    if not files:
        raise InputError(f"{landing}: no batch files ({form}.parquet)")
    return files


def write_json(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def replace_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically: a reader (a process, nginx reloading) sees the old file or the new one."""
    staged = path.with_suffix(path.suffix + ".new")
    staged.write_text(text)
    staged.replace(path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise InputError(f"{path}: file not found") from error


def append_text(variable: str, text: str) -> None:
    """Append to the file an environment variable names (GitHub's GITHUB_OUTPUT, GITHUB_STEP_SUMMARY), if set."""
    target = os.environ.get(variable)
    if target:
        with Path(target).open("a") as handle:
            handle.write(text)


def md5(path: Path) -> str:
    """The md5 of a file, as DVC computes it for a single file; of a folder of parts, the md5 of its parts' names and
    md5s, one line each, in name order."""
    if path.is_dir():
        listing = "".join(f"{part.name} {md5(part)}\n" for part in parts(path))
        return hashlib.md5(listing.encode()).hexdigest()
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_lines(location: str | Path, missing_ok: bool = True) -> list[str]:
    """Every line of the JSON-lines files in a folder, local or at an fsspec URL (`s3://bucket/logs`, read through
    the DVC remote's plugin), oldest file name first. A missing folder has no lines, or is an InputError when
    `missing_ok` is false; any other failure to read is an InputError naming the location."""
    lines: list[str] = []
    try:
        filesystem, root = fsspec.core.url_to_fs(str(location))
        found = filesystem.isdir(root)
        for path in sorted(filesystem.glob(f"{root.rstrip('/')}/*.jsonl")) if found else []:
            with filesystem.open(path, "rt", errors="replace") as handle:
                lines += handle.read().splitlines()
    except (OSError, ImportError, ValueError) as error:
        raise InputError(f"{location}: cannot be read ({type(error).__name__}: {error})") from error
    if not found and not missing_ok:
        raise InputError(f"{location}: no such folder")
    return lines


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as one level of dotted keys: {"a": {"b": 1}} -> {"a.b": 1}."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return flat


def _flow(value: Any) -> Any:
    """Lists and mappings in flow style (`[a, b]`, `{k: v}`), as params.yaml writes them: ruamel 0.19 breaks the
    file when it replaces a block list under a commented key with an empty one (`exclude: []` swallowed the next
    section's line break)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, list):
        flow: Any = CommentedSeq(_flow(item) for item in value)
    elif isinstance(value, dict):
        flow = CommentedMap((key, _flow(item)) for key, item in value.items())
    else:
        return value
    flow.fa.set_flow_style()
    return flow


def set_yaml_values(path: Path, changes: dict[str, Any]) -> None:
    """Change existing keys (dotted paths) of a YAML file in place, keeping its comments and layout."""
    from ruamel.yaml import YAML

    document = YAML()  # round-trip mode
    document.representer.add_representer(
        type(None), lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    tree = document.load(path.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = tree
        for key in parents:
            if not isinstance(node, dict) or key not in node:
                raise InputError(f"{path}: no key {dotted!r} (only existing keys can be set)")
            node = node[key]
        if not isinstance(node, dict) or last not in node:
            raise InputError(f"{path}: no key {dotted!r} (only existing keys can be set)")
        node[last] = _flow(value)
    with path.open("w") as handle:
        document.dump(tree, handle)
