"""A temporary copy of the repository, with its own git, DVC cache and MLflow store, to run the real commands in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

Run = Callable[..., subprocess.CompletedProcess[str]]


def copy_repository(target: Path) -> Path:
    """The committed files of the repository (plus uncommitted edits to them), without data or outputs."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def environment(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        DVC_SITE_CACHE_DIR=str(home / "dvc-site-cache"),
        DVC_NO_ANALYTICS="1",
        MLFLOW_DISABLE_TELEMETRY="true",
        MLFLOW_TRACKING_URI=f"sqlite:///{home / 'mlflow.db'}",
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    return env


@pytest.fixture(scope="module")
def make_repo(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], tuple[Path, Run]]:
    """Build a fresh copy of the repository; returns its path and a `run(*command)` bound to it."""

    def build() -> tuple[Path, Run]:
        base = tmp_path_factory.mktemp("repo")
        home = base / "home"
        home.mkdir()
        repo = copy_repository(base / "repo")
        env = environment(home)

        def run(*command: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess[str]:
            result = subprocess.run(command, cwd=repo, env=env | extra, capture_output=True, text=True, check=False)
            if check and result.returncode:
                raise AssertionError(
                    f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
                )
            return result

        run("git", "init", "-q", "-b", "main")
        run("git", "add", "-A")
        run("git", "commit", "-qm", "copy")
        return repo, run

    return build
