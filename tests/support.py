"""Helpers the tests share (fixtures stay in the conftest files): the repository copy and its environment,
real data slices, inference-log lines, HTTP helpers and `act` with its stand-ins."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

import retrain

ROOT = Path(__file__).resolve().parents[1]

BIN = Path(sys.executable).parent

VENV = BIN.parent

STUBS = ROOT / "tests/e2e/stubs"

# uv's cache on this machine (filled by `make setup`): deploys build release venvs from it, offline
UV_CACHE = os.environ.get("UV_CACHE_DIR") or str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "uv"
)

NOW = pd.Timestamp("2026-11-27 12:00", tz="UTC")

Run = Callable[..., subprocess.CompletedProcess[str]]


def copy_repository(target: Path) -> Path:
    """The committed files of the repository (plus uncommitted edits to them), without data or outputs."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


# What a test's processes take from this one: act in host mode hands its own environment to every step it runs
# (nektos/act pkg/runner/run_context.go), so on a GitHub-hosted runner RUNNER_ENVIRONMENT, GITHUB_* and CI would reach
# the workflow under test (`make deploy` then refuses the local target). Everything else a test sets itself.
INHERITED = ("PATH", "LANG", "LC_ALL", "TMPDIR", "TZ")

# The variables a GitHub runner sets in every step (docs: "Store information in variables", default variables), by
# prefix, besides CI=true
RUNNER_PREFIXES = ("GITHUB_", "RUNNER_", "ACTIONS_")
HOSTED_RUNNER = {
    "CI": "true",
    "GITHUB_ACTIONS": "true",
    "RUNNER_ENVIRONMENT": "github-hosted",
    "RUNNER_OS": "Linux",
    "RUNNER_ARCH": "X64",
    "GITHUB_EVENT_NAME": "push",
    "GITHUB_REPOSITORY": "acme/retrain",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_API_URL": "https://api.github.com",
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_RUN_ID": "1",
    "GITHUB_ACTOR": "octocat",
}

# numpy 2.4's x86 features above its baseline (X86_V2, which it refuses to disable): with these disabled a process
# takes the kernels of a CPU older than this one, as a runner of another type may (unknown names are ignored)
NPY_BASELINE = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"


def inherited() -> dict[str, str]:
    return {name: os.environ[name] for name in INHERITED if name in os.environ}


def environment(home: Path) -> dict[str, str]:
    env = inherited()
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        DVC_SITE_CACHE_DIR=str(home / "dvc-site-cache"),
        DVC_NO_ANALYTICS="1",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        BENTOML_DO_NOT_TRACK="true",
        MLFLOW_TRACKING_URI=f"sqlite:///{home / 'mlflow.db'}",
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    return env


def bare_origin(path: Path) -> Path:
    """A bare repository as GitHub holds one: its branch main, and hooks that refuse what GitHub refuses a
    workflow's token and close the PRs of a deleted branch for the GitHub stand-in (tests/e2e/stubs/hooks)."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    for hook in ("pre-receive", "post-receive"):
        shutil.copy2(STUBS / "hooks" / hook, path / "hooks" / hook)
    return path


def pushed_clone(tmp_path: Path, write: Callable[[Path], object]) -> Path:
    """A clone (tmp_path/repo) of a new bare origin (tmp_path/origin.git, see bare_origin) whose main is one commit
    of what `write` puts in the clone."""
    bare, clone = bare_origin(tmp_path / "origin.git"), tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True, capture_output=True)
    for key, value in (("user.name", "test"), ("user.email", "test@example.com")):
        git("config", key, value, cwd=clone)
    write(clone)
    git("add", "-A", cwd=clone)
    git("commit", "-qm", "Initial commit", cwd=clone)
    git("push", "-q", "origin", "main", cwd=clone)
    return clone


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def _uses(steps: list[dict[str, str]], repo: Path) -> set[str]:
    """Every action the steps use; a local composite action (`./.github/actions/...`) by the actions inside it."""
    uses = set()
    for step in steps:
        action = step.get("uses", "")
        if action.startswith("./"):
            uses |= _uses(yaml.safe_load((repo / action / "action.yml").read_text())["runs"]["steps"], repo)
        elif action and not action.startswith("actions/checkout@"):
            uses.add(action)
    return uses


def _stub_flags(workflow: Path) -> list[str]:
    """`--local-repository` for every third-party action the workflow uses (checkout is act's own): nothing is
    fetched, so actions/setup-python, actions/cache, setup-cml and the App token action do nothing under act."""
    repo = workflow.parents[2]
    jobs = yaml.safe_load(workflow.read_text())["jobs"].values()
    uses = set().union(*(_uses(job["steps"], repo) for job in jobs))
    return [flag for action in sorted(uses) for flag in ("--local-repository", f"{action}={STUBS / 'noop'}")]


def act_env(tmp_path: Path, venv: Path = VENV) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return dict(
        inherited(),
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        DVC_NO_ANALYTICS="1",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        BENTOML_DO_NOT_TRACK="true",
        ITERATIVE_DO_NOT_TRACK="1",
        XDG_CACHE_HOME=str(tmp_path / "cache"),  # act's workspace; `bentoml build` refuses paths with a hidden part
        PATH=f"{STUBS / 'bin'}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
        VENV=str(venv),  # the Makefile uses this venv as it is: no install, nothing fetched
        LOCKS="",
        CML_RECORD=str(tmp_path / "cml"),
        DVC_SITE_CACHE_DIR=str(tmp_path / "dvc-site"),
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
        UV_CACHE_DIR=UV_CACHE,
    )


def act(
    repo: Path, tmp_path: Path, event: str, workflow: str, *args: str, venv: Path = VENV, github: str = ""
) -> subprocess.CompletedProcess[str]:
    """The workflow under act, for the repository `acme/retrain` (as its steps see GITHUB_REPOSITORY); with
    `github`, the URL of a GitHub stand-in, its steps call that API (act takes GITHUB_API_URL from --env)."""
    env = act_env(tmp_path, venv)
    path = repo / ".github/workflows" / workflow
    command = ["act", event, "-W", str(path), "-P", "ubuntu-latest=-self-hosted", "-s", "GITHUB_TOKEN=test-token"]
    command += ["--env", "GITHUB_REPOSITORY=acme/retrain", *(["--env", f"GITHUB_API_URL={github}"] if github else [])]
    return subprocess.run(
        [*command, *_stub_flags(path), *args], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )


def stages_run(result: Run | object) -> list[str]:
    return re.findall(r"Running stage '(\w+)'", getattr(result, "stdout", ""))


def ended(pid: int) -> bool:
    """Gone, or a zombie (ended; its new parent, whatever runs as PID 1 here, may not reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
    """POST and read the answer, as curl would: a server that answers before it has read the whole body (a 413 on
    Content-Length) may close the socket while the body is still being sent; the answer it sent is still read."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it stopped reading: its answer is sent
            connection.request("POST", parts.path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def copy_remote(template: Path, tmp_path: Path) -> Path:
    """A copy of the session's template in `tmp_path`, every absolute path in it (git's origin, DVC's remote,
    MLflow's artifact locations) moved there, and the commit naming the remote amended and pushed again."""
    old, new = str(template), str(tmp_path)
    for name in ("origin.git", "repo", "dvc-remote", "home", "mlflow.db"):
        source, target = template / name, tmp_path / name
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


class DaskCluster:
    """A Dask cluster of real processes on loopback: `dask scheduler` and single-threaded `dask worker`s without a
    nanny (so that a killed worker stays dead), each in its own folder under `folder`, importing by PYTHONPATH the
    `retrain` package this process imports and this repository's tests (a synthetic domain). Ended by pid."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.workers = folder, list[subprocess.Popen[bytes]]()
        package = Path(retrain.__file__).resolve().parents[1]  # the workers import the retrain this process runs
        self.env = inherited() | {
            "PYTHONPATH": f"{package}{os.pathsep}{ROOT}",
            "DASK_DATAFRAME__CONVERT_STRING": "False",
            "MALLOC_TRIM_THRESHOLD_": "65536",  # as a nanny sets it (distributed.nanny.pre-spawn-environ)
        }
        file = folder / "scheduler.json"
        self.scheduler = self._start(
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(file)
        )
        _wait_for(file.exists, f"dask scheduler (log: {folder / 'scheduler.log'})")
        self.address = json.loads(file.read_text())["address"]

    def _start(self, name: str, *arguments: str) -> subprocess.Popen[bytes]:
        (self.folder / name).mkdir(parents=True, exist_ok=True)
        log = (self.folder / f"{name}.log").open("wb")
        command = [str(BIN / "dask"), name.rstrip("0123456789"), *arguments]
        return subprocess.Popen(command, cwd=self.folder / name, env=self.env, stdout=log, stderr=log)

    def add_worker(self, memory: str = "2GiB") -> subprocess.Popen[bytes]:
        """One more worker: 1 thread, `memory` at most, its spill folder its own."""
        name = f"worker{len(self.workers)}"
        worker = self._start(
            name, self.address, "--nthreads", "1", "--memory-limit", memory, "--no-nanny", "--no-dashboard",
            "--host", "127.0.0.1", "--local-directory", str(self.folder / name),
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(count, timeout=60)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            process.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(ready: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not start in {seconds:g} s")
        time.sleep(0.05)


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int = 2, memory: str = "2GiB") -> Iterator[DaskCluster]:
    """A started cluster of `workers` workers of `memory` each (see DaskCluster), stopped after."""
    cluster = DaskCluster(folder)
    try:
        for _ in range(workers):
            cluster.add_worker(memory)
        cluster.wait_for_workers(workers)
        yield cluster
    finally:
        cluster.stop()
