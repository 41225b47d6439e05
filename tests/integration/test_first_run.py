"""A first run: no DVC remote, or one whose bucket does not hold the data or the champion yet. `make data` pulls what
the remote holds, regenerates the bundled rest and pushes it; `retrain compare` rebuilds a champion that no cache or
remote holds from the base's own code, params and data, and accepts it only when its md5 is the one dvc.lock names."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from retrain.io import files, vcs
from tests.support import VENV, Run

pytestmark = pytest.mark.slow

POINTERS = [*(f"data/landing/2013-{month:02d}.parquet.dvc" for month in range(1, 7)), "data/weather.parquet.dvc"]


def remote_holds(remote: Path, md5: str) -> bool:
    return (remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def forget_data(path: Path) -> None:
    """As on a fresh runner: no data in the workspace, nothing in the DVC cache."""
    for pointer in POINTERS:
        (path / pointer).with_suffix("").unlink(missing_ok=True)
    shutil.rmtree(path / ".dvc/cache", ignore_errors=True)


@pytest.fixture(scope="module")
def fresh(make_repo: Callable[[], tuple[Path, Run]]) -> tuple[Path, Run]:
    """A copy of the repository as a fresh runner checks it out: pointers, no data, no cache."""
    return make_repo()


def make_data(run: Run, **env: str) -> object:
    return run("make", "--no-print-directory", "data", check=False, VENV=str(VENV), LOCKS="", **env)


def test_make_data_with_an_empty_bucket_pulls_what_it_holds_and_bootstraps_and_pushes_the_rest(
    fresh: tuple[Path, Run], tmp_path: Path
) -> None:
    path, run = fresh
    remote = tmp_path / "bucket"
    run("retrain", "bootstrap")  # a machine that has the data pushes two batches; the bucket lacks the rest
    run("dvc", "remote", "add", "--local", "--default", "ci", str(remote))
    run("dvc", "push", "--quiet", POINTERS[0], POINTERS[1])
    forget_data(path)

    result = make_data(run)
    assert result.returncode == 0, result.stdout + result.stderr  # type: ignore[attr-defined]
    for pointer in POINTERS:
        md5 = vcs.pointer_md5(path / pointer)
        assert files.md5((path / pointer).with_suffix("")) == md5, pointer
        assert remote_holds(remote, md5), pointer
    said = result.stdout + result.stderr  # type: ignore[attr-defined]
    assert "bootstrap: 5 file(s) regenerated and pushed to the DVC remote 'ci': " in said
    for pointer in POINTERS[2:]:
        assert pointer.removesuffix(".dvc") in said
    assert "2013-01.parquet," not in said and "2013-02.parquet," not in said  # pulled, not regenerated
    assert "changed" not in run("dvc", "status", *POINTERS).stdout


def test_make_data_does_not_push_when_told_not_to(fresh: tuple[Path, Run], tmp_path: Path) -> None:
    """A pull request's job has read-only credentials (DVC_PUSH=false): it regenerates, and pushes nothing."""
    path, run = fresh
    remote = tmp_path / "bucket"
    run("dvc", "remote", "add", "--local", "--default", "--force", "ci", str(remote))
    forget_data(path)
    result = make_data(run, DVC_PUSH="false")
    assert result.returncode == 0, result.stdout + result.stderr  # type: ignore[attr-defined]
    assert "not pushed: DVC_PUSH=false" in result.stderr  # type: ignore[attr-defined]
    assert not remote.exists() or not any(remote.rglob("*"))
    assert all((path / pointer).with_suffix("").exists() for pointer in POINTERS)


def test_make_data_names_the_batches_it_can_neither_pull_nor_regenerate(
    fresh: tuple[Path, Run], tmp_path: Path
) -> None:
    """A team's own batch that was never pushed: the error names it and the way out."""
    path, run = fresh
    remote = tmp_path / "bucket"
    run("dvc", "remote", "add", "--local", "--default", "--force", "ci", str(remote))
    forget_data(path)
    ours = path / "data/landing/2013-07.parquet.dvc"
    january = (path / POINTERS[0]).read_text()
    ours.write_text(january.replace("2013-01", "2013-07").replace(vcs.pointer_md5(path / POINTERS[0]), "beef" * 8))
    try:
        result = make_data(run)
    finally:
        ours.unlink()
    assert result.returncode != 0  # type: ignore[attr-defined]
    said = result.stderr  # type: ignore[attr-defined]
    assert "data/landing/2013-07.parquet" in said and "push" in said and "machine that has" in said
    assert "Traceback" not in said
    assert remote_holds(remote, vcs.pointer_md5(path / POINTERS[0]))  # what it could regenerate is pushed


def test_a_remote_that_fails_fails_make_data_with_dvcs_message(fresh: tuple[Path, Run], tmp_path: Path) -> None:
    """Not a missing file: the remote cannot be read at all. Nothing is regenerated behind DVC's error."""
    path, run = fresh
    broken = tmp_path / "not-a-folder"
    broken.write_text("a file where the bucket should be")
    run("dvc", "remote", "add", "--local", "--default", "--force", "ci", str(broken))
    forget_data(path)
    result = make_data(run)
    assert result.returncode != 0  # type: ignore[attr-defined]
    assert "Not a directory" in result.stderr  # type: ignore[attr-defined]
    assert "regenerated" not in result.stdout + result.stderr  # type: ignore[attr-defined]
    assert not any((path / pointer).with_suffix("").exists() for pointer in POINTERS)
