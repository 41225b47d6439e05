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
