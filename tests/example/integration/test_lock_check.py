"""`retrain lock-check`: dvc.lock must describe the committed code and params; data ahead of its retrain is fine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import Run

pytestmark = pytest.mark.slow


def test_a_stale_lock_names_the_stage_and_the_file_or_param(make_repo: Callable[[], tuple[Path, Run]]) -> None:
    path, run = make_repo()
    assert run("retrain", "lock-check").returncode == 0  # the committed lock, with no data at all
    run("retrain", "new-batch", "2013-07")  # new data on main ahead of its retrain: the normal state
    assert run("retrain", "lock-check").returncode == 0

    drift = path / "src/retrain/pipeline/drift.py"
    drift.write_text(drift.read_text() + "\n# an edit\n")
    run("retrain", "set-params", "train.seed=7")
    result = run("retrain", "lock-check", check=False)
    assert result.returncode == 2
    assert "drift: src/retrain/pipeline modified" in result.stderr
    assert "train: param train in params.yaml modified" in result.stderr
    assert "evaluate: param" not in result.stderr  # evaluate depends on the evaluate section only
    assert "dvc.lock is not current" in result.stderr.splitlines()[-1]

    (path / "dvc.lock").unlink()
    missing = run("retrain", "lock-check", check=False)
    assert missing.returncode == 2 and "dvc.lock: missing" in missing.stderr and "Traceback" not in missing.stderr
