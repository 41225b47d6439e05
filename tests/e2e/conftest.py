"""The real workflow files under `act` on this host: a repository with a bare `origin`, recording stand-ins."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.support import act_env, copy_repository, git


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
    """The repository with a DVC remote (a local folder) that holds main's data and champion, as in real use: a copy
    of the session's template, every absolute path in it (git's origin, DVC's remote, MLflow's artifact locations)
    moved to this test's folder, and the commit naming the remote amended and pushed again."""
    old, new = str(_remote_template), str(tmp_path)
    for name in ("origin.git", "repo", "dvc-remote", "home", "mlflow.db"):
        source, target = _remote_template / name, tmp_path / name
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
    repository = tmp_path / "repo"
    shutil.rmtree(repository / ".dvc/tmp", ignore_errors=True)  # DVC's state, keyed by the old paths
    config = repository / ".dvc/config"
    config.write_text(config.read_text().replace(old, new))
    git("remote", "set-url", "origin", str(tmp_path / "origin.git"), cwd=repository)
    git("commit", "-q", "--amend", "--no-edit", "-a", cwd=repository)
    git("push", "-qf", "origin", "main", cwd=repository)
    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for column in db.execute(f"SELECT name, type FROM pragma_table_info('{table}')").fetchall():
                if column[1].upper().startswith(("VARCHAR", "TEXT")):
                    db.execute(f'UPDATE "{table}" SET "{column[0]}" = replace("{column[0]}", ?, ?)', (old, new))
    return repository
