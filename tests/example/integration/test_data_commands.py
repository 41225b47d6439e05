"""`retrain bootstrap` recreates the committed batches byte for byte; `retrain new-batch` adds the next month."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from retrain.io import files, vcs
from tests.support import Run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(make_repo: Callable[[], tuple[Path, Run]]) -> tuple[Path, Run]:
    return make_repo()


def test_bootstrap_recreates_what_the_pointers_name(repo: tuple[Path, Run]) -> None:
    path, run = repo
    pointers = [*sorted(path.glob("data/landing/*.parquet.dvc")), path / "data/side/weather.parquet.dvc"]
    assert len(pointers) == 7
    run("retrain", "bootstrap")
    for pointer in pointers:
        assert files.md5(pointer.with_suffix("")) == vcs.pointer_md5(pointer), pointer
    status = run("dvc", "status", *[str(p.relative_to(path)) for p in pointers])
    assert "changed" not in status.stdout and "deleted" not in status.stdout
    assert "already in place" in run("retrain", "bootstrap").stderr


def test_bootstrap_refuses_a_pointer_it_cannot_reproduce(repo: tuple[Path, Run]) -> None:
    path, run = repo
    pointer = path / "data/landing/2013-02.parquet.dvc"
    original = pointer.read_text()
    pointer.write_text(original.replace(vcs.pointer_md5(pointer), "0" * 32))
    (path / "data/landing/2013-02.parquet").unlink(missing_ok=True)  # present only if the test before ran
    result = run("retrain", "bootstrap", check=False)
    pointer.write_text(original)
    assert result.returncode == 2
    assert "2013-02.parquet.dvc" in result.stderr and "dvc pull" in result.stderr
    assert not (path / "data/landing/2013-02.parquet").exists()


def test_new_batch_adds_the_month_with_its_pointer(repo: tuple[Path, Run]) -> None:
    path, run = repo
    run("retrain", "new-batch", "2013-07")
    batch = path / "data/landing/2013-07.parquet"
    assert files.md5(batch) == vcs.pointer_md5(path / "data/landing/2013-07.parquet.dvc")
    assert "/2013-07.parquet" in (path / "data/landing/.gitignore").read_text()
    again = run("retrain", "new-batch", "2013-07", check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    for wrong in ("2014-01", "July", "2013-08.parquet"):
        result = run("retrain", "new-batch", wrong, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not list(path.glob("data/landing/*.parquet.parquet*"))
