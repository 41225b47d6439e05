"""What a job on a self-hosted runner (the serving machine's, a cloud runner) gets from `make` rather than from
GitHub's runner images: Python 3.11 without actions/setup-python, and the commands in /usr/sbin (nginx)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from tests.support import BIN, ROOT, inherited

# the interpreter under the venv that runs the tests: Python 3.11, the version pyproject requires
BASE = os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def _make(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "--no-print-directory", *args],
        cwd=ROOT,
        env=inherited() | {"HOME": os.environ["HOME"]} | env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_venv_is_made_with_python_when_it_is_the_projects_version() -> None:
    """A laptop, a GitHub-hosted runner after actions/setup-python: $(PYTHON) itself."""
    made = _make("python", f"PYTHON={BASE}")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == BASE


def test_without_a_python_of_the_projects_version_uv_provides_its_managed_one(tmp_path: Path) -> None:
    """A self-hosted runner whose python3 is another version (Ubuntu 24.04: 3.12) gets uv's managed CPython 3.11
    (`uv python install`, once per user). uv's managed installations are stood in for by one made of this 3.11 in
    UV_PYTHON_INSTALL_DIR (the download itself needs the network)."""
    other = tmp_path / "python3"
    other.write_text("#!/bin/sh\necho 3.12\n")  # what `python3 -c 'print the version'` answers on that machine
    other.chmod(0o755)
    installs = tmp_path / "uv-python"
    managed = installs / f"cpython-{platform.python_version()}-linux-{platform.machine()}-gnu"
    (managed / "bin").mkdir(parents=True)
    (managed / f"lib/python{sys.version_info.major}.{sys.version_info.minor}").mkdir(parents=True)
    (managed / "bin/python3.11").symlink_to(BASE)
    made = _make("python", f"PYTHON={other}", UV_PYTHON_INSTALL_DIR=str(installs), PATH=f"{BIN}:/usr/bin:/bin")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(managed / "bin/python3.11")


def test_the_recipes_find_the_commands_in_sbin_with_a_users_path() -> None:
    """Debian gives users other than root a PATH without /usr/sbin, where nginx is, and a runner keeps the PATH of
    the user who configured it: `make deploy` on the serving machine found no nginx."""
    made = _make("--eval=print-path: ; @echo $$PATH", "print-path", PATH="/usr/local/bin:/usr/bin:/bin")
    assert made.returncode == 0, made.stderr
    assert "/usr/sbin" in made.stdout.strip().split(":")


def test_make_serve_host_sets_the_host_up_for_the_user_named_in_that_users_home(tmp_path: Path) -> None:
    """`sudo make serve-host SERVE_USER=runner`: `retrain serve-host --user runner`, and the deploy folder is not
    the one in root's home (the Makefile's default for the deploy targets) unless RETRAIN_DEPLOY_DIR says so."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin/python").symlink_to(BIN / "python")
    for marker in (".runtime", ".dev"):
        (venv / marker).touch()
    for name, says in (("retrain", "RETRAIN_DEPLOY_DIR=[${RETRAIN_DEPLOY_DIR-unset}] $*"), ("nginx", "")):
        (venv / "bin" / name).write_text(f'#!/bin/sh\necho "{says}"\n')
        (venv / "bin" / name).chmod(0o755)
    run = ("serve-host", f"VENV={venv}", "LOCKS=")
    made = _make(*run, SERVE_USER="runner", HOME="/root")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().splitlines()[-1] == "RETRAIN_DEPLOY_DIR=[unset] serve-host --user runner"
    made = _make(*run, RETRAIN_DEPLOY_DIR="/srv/retrain")
    assert made.stdout.strip().splitlines()[-1] == "RETRAIN_DEPLOY_DIR=[/srv/retrain] serve-host", made.stderr
