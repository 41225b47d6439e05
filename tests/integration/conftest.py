"""A temporary copy of the repository, with its own git, DVC cache and MLflow store, to run the real commands in."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import Run, copy_repository, environment


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
