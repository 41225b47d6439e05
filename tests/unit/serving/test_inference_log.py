"""The inference log ships its closed files to a URL that a hosted monitoring runner can read."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from retrain.serving.inference_log import InferenceLog


def _write(log: InferenceLog, requests: int) -> None:
    for number in range(requests):
        records = [{"month": 7, "wind_speed": 10.0 + index} for index in range(20)]
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
