"""The real workflow files under `act` on this host: a repository with a bare `origin`, recording stand-ins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..integration.conftest import copy_repository

BIN = Path(sys.executable).parent
VENV = BIN.parent
STUBS = Path(__file__).parent / "stubs"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def _stub_flags(workflow: Path) -> list[str]:
    """`--local-repository` for every third-party action the workflow uses (checkout is act's own)."""
    uses = {
        step["uses"]
        for job in yaml.safe_load(workflow.read_text())["jobs"].values()
        for step in job["steps"]
        if "uses" in step and not step["uses"].startswith("actions/checkout@")
    }
    return [flag for action in sorted(uses) for flag in ("--local-repository", f"{action}={STUBS / 'noop'}")]


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


def act_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return dict(
        os.environ,
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),  # act's workspace; `bentoml build` refuses paths with a hidden part
        PATH=f"{STUBS / 'bin'}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
        VENV=str(VENV),  # the Makefile uses this venv as it is: no install, nothing fetched
        LOCKS="",
        CML_RECORD=str(tmp_path / "cml"),
        GH_RECORD=str(tmp_path / "gh"),
        DVC_SITE_CACHE_DIR=str(tmp_path / "dvc-site"),
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
    )


def act(repo: Path, tmp_path: Path, event: str, workflow: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = act_env(tmp_path)
    path = repo / ".github/workflows" / workflow
    command = ["act", event, "-W", str(path), "-P", "ubuntu-latest=-self-hosted", "-s", "GITHUB_TOKEN=test-token"]
    return subprocess.run(
        [*command, *_stub_flags(path), *args], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )


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
