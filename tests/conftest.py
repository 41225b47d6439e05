"""Shared fixtures: the repository's own params and domain, a copy of the repository, the GitHub stand-in, a
temporary MLflow store. The example's own are in tests/example/conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from retrain.domain import Domain, load_domain
from retrain.params import Params, load
from tests.e2e.stubs.github import GitHubStandIn
from tests.support import ROOT, RUNNER_PREFIXES, Run, copy_repository, environment

# No test sees the runner it runs on: a GitHub-hosted runner's variables (RUNNER_ENVIRONMENT, GITHUB_OUTPUT, CI, ...)
# would change what the commands under test do and where they write.
for _name in [name for name in os.environ if name.startswith(RUNNER_PREFIXES) or name == "CI"]:
    del os.environ[_name]
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


# The longest files start first: `make pytest` hands whole files to its workers in collection order (pytest-xdist's
# --dist loadfile --no-loadscope-reorder; by default it orders files by their number of tests), so that no long
# scenario starts last while the other worker idles (measured: the deploy file, 290 s, started 340 s into a run).
LONGEST_FIRST = (
    "tests/example/e2e/test_workflows.py",
    "tests/example/e2e/test_deploy.py",
    "tests/example/integration/test_tune.py",
    "tests/example/integration/test_compare_report.py",
    "tests/example/integration/test_dvc_pipeline.py",
    "tests/example/integration/test_first_run.py",
    "tests/example/e2e/test_service.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(scope="session")
def params() -> Params:
    return load(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def domain(params: Params) -> Domain:
    """The domain params.yaml names, with its settings (and the process's: saved models' steps run it)."""
    return load_domain(params)


@pytest.fixture
def github(tmp_path: Path) -> Iterator[GitHubStandIn]:
    """GitHub's REST API (a stand-in on loopback) for the repository whose origin is tmp_path/origin.git (for act:
    `act(..., github=github.url)`). The test fails if any call, or any answer, was not one GitHub's OpenAPI
    description allows (a test that makes such calls on purpose clears `violations`)."""
    stand_in = GitHubStandIn(tmp_path / "origin.git").start()
    yield stand_in
    stand_in.stop()
    if stand_in.violations:
        pytest.fail("GitHub's OpenAPI description does not allow:\n" + "\n".join(stand_in.violations), pytrace=False)


@pytest.fixture(autouse=True)
def _tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test that reaches MLflow writes to a store under its own temporary folder. The package sets mlflow's
    process-wide tracking URI, which outranks the variable: a test in the same process is pointed back at its own."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    if "mlflow" in sys.modules:  # imported by a test before (importing it here would cost every worker 2 s)
        sys.modules["mlflow"].set_tracking_uri(uri)


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
