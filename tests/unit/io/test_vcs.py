"""git through io.vcs: a ref that starts with `-` is a ref, never an option (`--output=FILE` used to write a file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrain.io import vcs
from tests.support import ROOT


def test_a_ref_that_looks_like_an_option_is_only_a_ref_that_names_nothing(tmp_path: Path) -> None:
    written = tmp_path / "written"
    ref = f"--output={written}"
    assert vcs.commit(ROOT, ref) is None
    assert vcs.show(ROOT, ref, "params.yaml") is None
    assert vcs.last_change(ROOT, ref, "dvc.lock") is None
    assert vcs.files(ROOT, ref, "data/landing") == []
    with pytest.raises(vcs.VcsError):
        vcs.log(ROOT, ref, "dvc.lock")
    assert not written.exists()


def test_files_at_a_ref_are_read_from_git_objects() -> None:
    assert vcs.commit(ROOT) is not None
    assert "stages:" in (vcs.show(ROOT, "HEAD", "dvc.yaml") or "")
    assert vcs.lock_md5(vcs.show(ROOT, "HEAD", "dvc.lock"), "models/model.skops")


def test_a_base_known_only_as_a_remote_tracking_branch_is_found_there(tmp_path: Path) -> None:
    import subprocess

    def git(*args: str, cwd: Path) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=cwd, check=True, capture_output=True
        )

    origin, clone = tmp_path / "origin", tmp_path / "clone"
    origin.mkdir()
    git("init", "-q", "-b", "main", cwd=origin)
    git("commit", "-q", "--allow-empty", "-m", "first", cwd=origin)
    git("branch", "release", cwd=origin)
    git("clone", "-q", "--branch", "main", str(origin), str(clone), cwd=tmp_path)  # as a CI checkout of main
    assert vcs.resolve(clone, "main") == "main"
    assert vcs.resolve(clone, "release") == "origin/release"  # only a remote-tracking branch here
    assert vcs.resolve(clone, "nowhere") == "nowhere"
