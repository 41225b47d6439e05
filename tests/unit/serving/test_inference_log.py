"""The inference log ships its closed files to a URL that a hosted monitoring runner can read."""

from __future__ import annotations

import datetime
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest

from retrain.serving.inference_log import InferenceLog, Retention


def _write(log: InferenceLog, requests: int) -> None:
    for number in range(requests):
        records = [{"period": 7, "reading": 10.0 + index} for index in range(20)]
        log.write(f"r{number}", "a" * 32, records, np.full(20, 0.25), None)


def test_closed_files_are_shipped_once_and_an_earlier_days_file_of_another_writer_too(tmp_path: Path) -> None:
    folder, target = tmp_path / "log", tmp_path / "bucket/logs"
    folder.mkdir()
    (folder / "predictions-2020-01-01-1-0.jsonl").write_text('{"request_id": "old"}\n')  # a dead worker's, long ago
    log = InferenceLog(folder, max_bytes=2048, sample=1.0, ship_to=target.as_uri())
    _write(log, 30)
    log.close()
    written = sorted(p.name for p in folder.glob("*.jsonl"))
    assert len(written) > 3  # rotated at max_bytes
    assert sorted(p.name for p in target.glob("*.jsonl")) == written
    for name in written:
        assert (target / name).read_bytes() == (folder / name).read_bytes()
        assert (folder / f"{name}.shipped").exists()
    lines = [json.loads(line) for name in written for line in (target / name).read_text().splitlines()]
    assert len(lines) == 1 + 30 * 20


def test_a_failing_upload_is_counted_and_logged_and_the_log_keeps_writing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder, blocker = tmp_path / "log", tmp_path / "a-file"
    blocker.write_text("not a folder")  # no folder can be made under it, not even by root
    log = InferenceLog(folder, max_bytes=2048, sample=1.0, ship_to=f"{blocker.as_uri()}/logs")
    with caplog.at_level(logging.WARNING):
        _write(log, 30)
        log.close()
    assert log.ship_failures > 0 and "could not ship" in caplog.text
    assert sum(len(p.read_text().splitlines()) for p in folder.glob("*.jsonl")) == 30 * 20
    assert not list(folder.glob("*.shipped"))


def test_a_full_disk_drops_lines_counted_by_reason_and_the_writer_recovers(tmp_path: Path) -> None:
    """The first file is /dev/full (every write fails with ENOSPC): its lines are dropped and counted, the writer
    opens the next file, and the lines after it are written."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    folder = tmp_path / "log"
    folder.mkdir()
    day = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    (folder / f"predictions-{day}-{os.getpid()}-0.jsonl").symlink_to("/dev/full")
    counted: list[tuple[str, int]] = []
    log = InferenceLog(folder, max_bytes=10**6, sample=1.0, on_drop=lambda reason, n: counted.append((reason, n)))
    _write(log, 1)  # 20 lines into the full disk
    time.sleep(0.5)
    _write(log, 2)
    log.close()
    assert log.dropped["write_error_ENOSPC"] >= 1 and counted[0][0] == "write_error_ENOSPC"
    written = sum(len(p.read_text().splitlines()) for p in folder.glob("*-1.jsonl"))
    assert written + log.dropped["write_error_ENOSPC"] == 60 and written >= 40


def test_a_writer_that_cannot_keep_up_drops_and_close_does_not_block(tmp_path: Path) -> None:
    log = InferenceLog(tmp_path / "log", max_bytes=10**6, sample=1.0, queue_size=5)
    _write(log, 10)  # 200 lines into a queue of 5, faster than any disk
    started = time.monotonic()
    log.close(timeout=2)
    assert time.monotonic() - started < 3
    assert log.dropped.get("queue_full", 0) > 0
    lines = sum(len(p.read_text().splitlines()) for p in (tmp_path / "log").glob("*.jsonl"))
    assert lines + log.dropped["queue_full"] == 200


def test_retention_deletes_old_and_excess_files_but_never_what_monitoring_reads_or_what_is_not_shipped(
    tmp_path: Path,
) -> None:
    folder, target = tmp_path / "log", tmp_path / "bucket"
    folder.mkdir()
    now = time.time()
    ages = {"a-40d": 40, "b-20d": 20, "c-10d": 10, "d-3d": 3}
    for name, days in ages.items():
        path = folder / f"predictions-2020-01-01-9-{name}.jsonl"
        path.write_text("x" * 1000 + "\n")
        os.utime(path, (now - days * 86_400, now - days * 86_400))
    (folder / "predictions-2020-01-01-9-b-20d.jsonl.shipped").touch()  # only b and d were shipped
    (folder / "predictions-2020-01-01-9-d-3d.jsonl.shipped").touch()
    retention = Retention(days=30, max_bytes=2500, keep_days=7)
    log = InferenceLog(folder, max_bytes=10**6, sample=1.0, ship_to=target.as_uri(), retention=retention)
    log._retain(None)
    log.close()
    left = sorted(p.name.split("-")[-2] + "-" + p.name.split("-")[-1] for p in folder.glob("*.jsonl"))
    # a (40 days) is past 30 days but not shipped: kept until it is; b (shipped) goes for the size limit;
    # c is not shipped; d is within the monitoring window
    assert left == ["a-40d.jsonl", "c-10d.jsonl", "d-3d.jsonl"], left
