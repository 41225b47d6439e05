"""`write_parts` / `read_frame`: a large table as a folder of parquet parts of a fixed number of rows, read back as
the frame it was (dtypes included), with the same bytes whenever the same frame is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from retrain.io import files


@pytest.fixture
def frame() -> pd.DataFrame:
    rows = 2_503
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "key": pd.array([f"k{n:05d}" for n in range(rows)], dtype="str"),
            "when": pd.date_range("2024-01-01", periods=rows, freq="min", tz="UTC"),
            "count": pd.array(rng.integers(0, 9, rows), dtype="Int64"),
            "value": np.where(rng.random(rows) < 0.1, np.nan, rng.normal(size=rows)),
            "kind": pd.Series([("a", "b", None)[n] for n in rng.integers(0, 3, rows)], dtype="str"),
        }
    )


def test_parts_hold_the_rows_in_order_and_read_back_as_the_frame(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "table.parquet"
    files.write_parts(frame, path, rows=1_000)
    assert sorted(p.name for p in path.iterdir()) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert [len(pd.read_parquet(p)) for p in sorted(path.iterdir())] == [1_000, 1_000, 503]
    pd.testing.assert_frame_equal(files.read_frame(path), frame)


def test_the_same_frame_gives_the_same_bytes_and_a_smaller_one_leaves_no_stale_part(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    files.write_parts(frame, first, rows=1_000)
    files.write_parts(frame.copy(), second, rows=1_000)
    assert files.md5(first) == files.md5(second)  # a folder's md5: its parts' names and md5s
    files.write_parts(frame.head(10), first, rows=1_000)
    assert [p.name for p in first.iterdir()] == ["part-00000.parquet"]
    assert files.md5(first) != files.md5(second)
    pd.testing.assert_frame_equal(files.read_frame(first), frame.head(10))


def test_a_single_file_before_is_replaced_and_an_empty_frame_keeps_its_columns(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    path = tmp_path / "table.parquet"
    files.write_frame(frame, path)  # the layout of older commits: one file, still read
    pd.testing.assert_frame_equal(files.read_frame(path), frame)
    files.write_parts(frame.iloc[0:0], path, rows=1_000)
    empty = files.read_frame(path)
    assert path.is_dir() and empty.empty and list(empty.columns) == list(frame.columns)
    assert not list(tmp_path.glob("*.tmp"))


def test_a_folder_without_parts_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "table.parquet").mkdir()
    with pytest.raises(files.InputError, match=r"table\.parquet: no part-\*\.parquet"):
        files.read_frame(tmp_path / "table.parquet")


@pytest.mark.parametrize("group_rows", [700, 1 << 20])  # several row groups; one group larger than any range
def test_ranges_of_a_file_read_back_as_its_rows_whatever_its_row_groups(
    tmp_path: Path, frame: pd.DataFrame, group_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "batch.parquet"
    frame.to_parquet(path, index=False, row_group_size=group_rows)
    monkeypatch.setattr(files, "BATCH_ROWS", 64)  # ranges start and stop inside decoded batches
    ranges = files.row_ranges(path, 300)
    assert [(rows.start, rows.stop) for rows in ranges][-2:] == [(2_100, 2_400), (2_400, 2_503)]
    read = [files.read_rows(rows) for rows in ranges]
    pd.testing.assert_frame_equal(pd.concat(read), frame)
    columns = files.read_rows(ranges[3], ["when", "key"])
    pd.testing.assert_frame_equal(columns, frame.loc[900:1_199, ["when", "key"]])


def test_an_empty_file_is_one_empty_range_with_the_columns(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "batch.parquet"
    files.write_frame(frame.iloc[0:0], path)
    (rows,) = files.row_ranges(path, 300)
    pd.testing.assert_frame_equal(files.read_rows(rows), frame.iloc[0:0], check_index_type=False)
    assert list(files.read_rows(rows, ["count"]).columns) == ["count"]


def test_a_frame_written_in_groups_reads_back_whole_and_a_group_alone(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "grouped.parquet"
    files.write_groups(frame, [1, 1_500, 1_002], path)
    assert [pq.ParquetFile(path).metadata.row_group(n).num_rows for n in range(3)] == [1, 1_500, 1_002]
    pd.testing.assert_frame_equal(files.read_frame(path), frame)
    group = files.read_rows(files.Rows(str(path), 1, 1_501))
    pd.testing.assert_frame_equal(group, frame.iloc[1:1_501])
