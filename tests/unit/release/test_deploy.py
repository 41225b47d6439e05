"""The deploy checks that need no server: the Bento must hold the model dvc.lock names; a rollback needs a previous."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrain.io import files, vcs
from retrain.release import deploy
from tests.support import ROOT

MODEL = Path("models/model.skops")


@pytest.fixture
def bento(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Bento's src/ with a model file and the dvc.lock that names it (the store lookup pointed at it)."""
    src = tmp_path / "bento/src"
    (src / "models").mkdir(parents=True)
    (src / MODEL).write_bytes(b"a model")
    lock = (
        (ROOT / "dvc.lock")
        .read_text()
        .replace(vcs.lock_md5((ROOT / "dvc.lock").read_text(), MODEL) or "", files.md5(src / MODEL))
    )
    (src / "dvc.lock").write_text(lock)
    monkeypatch.setattr(deploy, "bento_path", lambda tag: tmp_path / "bento")
    return src


def test_a_bento_that_holds_the_locked_model_passes(bento: Path) -> None:
    deploy.verify_bento("flight_delay:abc", files.md5(bento / MODEL), MODEL)


def test_a_bento_whose_model_is_not_the_one_dvc_lock_names_is_refused(bento: Path) -> None:
    expected = files.md5(bento / MODEL)
    (bento / MODEL).write_bytes(b"another model")
    with pytest.raises(deploy.DeployError, match=f"md5 {files.md5(bento / MODEL)} .* dvc.lock names {expected}"):
        deploy.verify_bento("flight_delay:abc", expected, MODEL)


def test_a_bento_built_from_another_lock_is_refused(bento: Path) -> None:
    with pytest.raises(deploy.DeployError, match="refusing to deploy"):
        deploy.verify_bento("flight_delay:abc", "0" * 32, MODEL)


def test_a_rollback_without_a_previous_release_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(deploy.DeployError, match="records no previous release: deploy an older ref"):
        deploy.Local(tmp_path, "127.0.0.1", 3000, 1, 0).previous()
