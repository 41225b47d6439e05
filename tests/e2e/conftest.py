"""The real workflow files under `act` on this host: a repository with a bare `origin`, recording stand-ins."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import act_env, copy_repository, git


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """This repository's files (as in the working tree) in a new git repository whose `origin` is a bare one."""
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


@pytest.fixture
def with_remote(repository: Path, tmp_path: Path) -> Path:
    """The repository with a DVC remote (a local folder) that holds main's data and champion, as in real use."""
    env = act_env(tmp_path)
    for command in (
        ["dvc", "remote", "add", "-d", "storage", str(tmp_path / "dvc-remote")],
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
    subprocess.run(["rm", "-rf", str(repository / ".dvc/cache")], check=True)
    return repository
