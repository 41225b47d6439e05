"""A fork that deletes the example keeps a working suite: in a copy of the repository without the example's package
and tests, with params.yaml naming another domain (the synthetic one, written where a team writes its own), pytest
collects every test, the import rules hold and the machinery's tests on that domain pass; `retrain` runs there on the
fork's own code."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from retrain.params import load
from tests.support import copy_repository, environment

pytestmark = pytest.mark.slow


def test_a_copy_without_the_example_collects_every_test_and_passes_the_machinery_tests(tmp_path: Path) -> None:
    repo = copy_repository(tmp_path / "repo")
    example = load(repo / "params.yaml").domain.module  # the domain the repository ships with
    shutil.rmtree(repo / "src" / example.replace(".", "/"))
    shutil.rmtree(repo / "tests/example")
    shutil.copy(repo / "tests/synthetic/domain.py", repo / "src/retrain/domain/tickets.py")
    (tmp_path / "home").mkdir()
    env = environment(tmp_path / "home") | {"PYTHONPATH": os.pathsep.join([str(repo / "src"), str(repo)])}

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=600)

    settings = json.dumps({"slow_hours": 24.0, "max_backlog": 5000})
    changed = run("retrain", "set-params", "domain.module=retrain.domain.tickets", f"domain.settings={settings}")
    assert changed.returncode == 0, changed.stderr
    where = run(sys.executable, "-c", "import retrain.domain.tickets as m; print(m.__file__)")
    assert where.stdout.strip() == str(repo / "src/retrain/domain/tickets.py"), where.stderr  # the fork's code
    assert run("retrain", "name").stdout.strip() == "ticket_sla"
    layers = run("lint-imports", "--no-cache")  # the import rules name no module of the example
    assert layers.returncode == 0, layers.stdout[-2000:]

    collected = run(sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider")
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr[-2000:]
    assert re.fullmatch(r"\d+ tests collected in [\d.]+s", collected.stdout.strip().splitlines()[-1]), collected.stdout
    machinery = run(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "tests/machinery"
    )
    assert machinery.returncode == 0, machinery.stdout[-3000:]
