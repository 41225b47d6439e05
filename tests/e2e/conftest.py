"""The real workflow files under `act` on this host: a repository with a bare `origin`, recording stand-ins."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import act_env, copy_remote, copy_repository, git


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """This repository's files (as in the working tree) in a new git repository whose `origin` is a bare one."""
    return _repository(tmp_path)


def _repository(tmp_path: Path) -> Path:
    bare, clone = tmp_path / "origin.git", copy_repository(tmp_path / "repo")
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("init", "-q", "-b", "main", cwd=clone)
    git("config", "user.name", "test", cwd=clone)
    git("config", "user.email", "test@example.com", cwd=clone)
    git("add", "-A", cwd=clone)
    git("commit", "-qm", "repository under test", cwd=clone)
    git("remote", "add", "origin", str(bare), cwd=clone)
    git("push", "-q", "origin", "main", cwd=clone)
    return clone


@pytest.fixture(scope="session")
def _remote_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per session (a bootstrap, a full `dvc repro` and a push: about 25 s): see `with_remote`."""
    base = tmp_path_factory.mktemp("remote-template")
    repository = _repository(base)
    env = act_env(base)
    for command in (
        ["dvc", "remote", "add", "-d", "storage", str(base / "dvc-remote")],
        ["retrain", "bootstrap"],
        ["dvc", "repro", "--quiet"],
        ["dvc", "push", "--quiet"],
    ):
        subprocess.run(command, cwd=repository, env=env, check=True, capture_output=True)
    git("add", "-A", cwd=repository)
    git("commit", "-qm", "a DVC remote holds the champion", cwd=repository)
    git("push", "-q", "origin", "main", cwd=repository)
    for generated in ("data/landing", "data/validated", "data/features", "models"):
        subprocess.run(["git", "clean", "-qfdX", generated], cwd=repository, check=True)  # as in a fresh checkout
    shutil.rmtree(repository / ".dvc/cache")
    return base


@pytest.fixture
def with_remote(_remote_template: Path, tmp_path: Path) -> Path:
    """The repository with a DVC remote (a local folder) that holds main's data and champion, as in real use."""
    return copy_remote(_remote_template, tmp_path)
