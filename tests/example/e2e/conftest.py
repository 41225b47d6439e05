"""The real workflow files under `act` on this host: a repository with a bare `origin`, recording stand-ins."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from retrain.io import files
from tests.support import HOSTED_RUNNER, NPY_BASELINE, act_env, bare_origin, copy_remote, copy_repository, git


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """This repository's files (as in the working tree) in a new git repository whose `origin` is a bare one."""
    return _repository(tmp_path)


def _repository(tmp_path: Path) -> Path:
    """A repository made from this one as GitHub's "Use this template" makes it (one commit, no history), on a bare
    `origin` that refuses what GitHub refuses a workflow's token, checked out as actions/checkout does (depth 1)."""
    bare, made = bare_origin(tmp_path / "origin.git"), copy_repository(tmp_path / "template")
    git("init", "-q", "-b", "main", cwd=made)
    git("add", "-A", cwd=made)
    git("-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "Initial commit", cwd=made)
    git("push", "-q", str(bare), "main", cwd=made)
    shutil.rmtree(made)
    clone = tmp_path / "repo"
    git("clone", "-q", "--depth", "1", f"file://{bare}", str(clone), cwd=tmp_path)
    git("remote", "set-url", "origin", str(bare), cwd=clone)
    git("config", "user.name", "test", cwd=clone)
    git("config", "user.email", "test@example.com", cwd=clone)
    return clone


@pytest.fixture(scope="session")
def _remote_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per run (a bootstrap, a full `dvc repro` and a push: about 25 s): under pytest-xdist by the first
    worker that needs it, in the run's folder above the workers' own, while the others wait; see `with_remote`."""
    own = tmp_path_factory.getbasetemp()
    shared = own.parent if os.environ.get("PYTEST_XDIST_WORKER") else own
    base = shared / "remote-template"
    with (shared / "remote-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this worker dies
        if not (base / ".built").exists():
            shutil.rmtree(base, ignore_errors=True)  # what a build that failed half-way left
            base.mkdir()
            _build_template(base)
            (base / ".built").touch()
    return base


def _build_template(base: Path) -> None:
    repository = _repository(base)
    env = act_env(base)
    _day_one(repository, env, base / "day-one.json")
    for command in (["dvc", "remote", "add", "-d", "storage", str(base / "dvc-remote")], ["dvc", "push", "--quiet"]):
        subprocess.run(command, cwd=repository, env=env, check=True, capture_output=True)
    git("add", "-A", cwd=repository)
    git("commit", "-qm", "a DVC remote holds the champion", cwd=repository)
    git("push", "-q", "origin", "main", cwd=repository)
    for generated in ("data/landing", "data/validated", "data/features", "models"):
        subprocess.run(["git", "clean", "-qfdX", generated], cwd=repository, check=True)  # as in a fresh checkout
    shutil.rmtree(repository / ".dvc/cache")


def _day_one(repository: Path, env: dict[str, str], record: Path) -> None:
    """`make retrain` in the fresh template copy, with a hosted runner's variables, on numpy's baseline CPU kernels
    (the lock was made on a machine with others): what it printed and the `git status` it left, for the test."""
    hosted = HOSTED_RUNNER | {
        "GITHUB_OUTPUT": str(record.with_suffix(".output")),
        "GITHUB_STEP_SUMMARY": str(record.with_suffix(".summary")),
        "NPY_DISABLE_CPU_FEATURES": NPY_BASELINE,
    }
    made = subprocess.run(["make", "retrain"], cwd=repository, env=env | hosted, capture_output=True, text=True)
    status = git("status", "--porcelain", cwd=repository)
    files.write_json({"returncode": made.returncode, "output": made.stdout + made.stderr, "status": status}, record)


@pytest.fixture
def with_remote(_remote_template: Path, tmp_path: Path) -> Path:
    """The repository with a DVC remote (a local folder) that holds main's data and champion, as in real use."""
    return copy_remote(_remote_template, tmp_path)
