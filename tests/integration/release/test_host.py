"""`retrain serve-host` run as root (README: `sudo make serve-host`) for the user the runner runs as, here `nobody`:
supervisord runs as that user, everything in the deploy folder is that user's, and that user's processes (the deploy
and health jobs) control supervisord and the programs it runs. As root it also builds supervisord's venv as that
user, on a Python that user can run (this machine's runs the tests from root's pyenv, which `nobody` cannot enter)."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrain.io.supervisor import Unreachable
from retrain.release import host
from tests.support import ended

try:
    NOBODY = pwd.getpwnam("nobody")  # every Debian and Ubuntu has it; a machine without it skips these tests
except KeyError:
    NOBODY = None  # type: ignore[assignment]
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or NOBODY is None, reason="only root sets the host up for another user (here: nobody)"
)


def _as_nobody(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        user=NOBODY.pw_uid,
        group=NOBODY.pw_gid,
        extra_groups=[],
        env={"PATH": "/usr/bin:/bin", "HOME": NOBODY.pw_dir},
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def served() -> Iterator[Path]:
    """The deploy folder, under a folder `nobody` may enter (pytest's tmp_path is in root's 0700 one); supervisord
    and its programs stopped and everything removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="serve-host-", dir="/tmp"))
    base.chmod(0o755)
    home = base / "state/retrain"
    try:
        yield home
    finally:
        pid_file = home / "run/supervisord.pid"
        with contextlib.suppress(Unreachable):
            host.supervisor(home).shutdown()
        if pid_file.exists():
            pid, deadline = int(pid_file.read_text()), time.monotonic() + 60
            while not ended(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        shutil.rmtree(base)


def test_root_sets_the_host_up_for_the_user_the_runner_runs_as(served: Path) -> None:
    done = host.install(served, NOBODY)
    print("\n".join(done))
    socket, pid = served / "run/supervisor.sock", int((served / "run/supervisord.pid").read_text())
    assert Path(f"/proc/{pid}").stat().st_uid == NOBODY.pw_uid  # supervisord runs as the runner's user
    assert (socket.stat().st_uid, stat.S_IMODE(socket.stat().st_mode)) == (NOBODY.pw_uid, 0o700)
    made = [served.parent, *served.parent.rglob("*")]  # state/ too, made for it on the way
    assert [str(path) for path in made if path.lstat().st_uid != NOBODY.pw_uid] == []
    unit = (served / host.UNIT_NAME).read_text()
    assert "\nUser=nobody\n" in unit and f"\nGroup={grp.getgrgid(NOBODY.pw_gid).gr_name}\n" in unit

    # the runner's user controls it (supervisor's own client here), and it runs what a deploy job writes as that user
    control = (served / "host/bin/supervisorctl", "-c", served / "supervisord.conf")
    answer = _as_nobody(*control, "pid")
    assert answer.stdout.strip() == str(pid), answer.stdout + answer.stderr
    host.program(served, "sleeper", ["sleep", "600"], served, served / "sleeper.log", "TERM")
    os.chown(served / "programs/sleeper.conf", NOBODY.pw_uid, NOBODY.pw_gid)
    added = _as_nobody(*control, "update")
    assert added.returncode == 0, added.stdout + added.stderr
    deadline = time.monotonic() + 30
    while "RUNNING" not in (status := _as_nobody(*control, "status", "sleeper")).stdout:
        assert time.monotonic() < deadline, status.stdout + status.stderr + (served / "sleeper.log").read_text()
        time.sleep(0.2)
    sleeper = (host.supervisor(served).info("sleeper") or {})["pid"]
    assert Path(f"/proc/{sleeper}").stat().st_uid == NOBODY.pw_uid

    assert host.install(served, NOBODY)[-1] == f"supervisord already answers on {socket}"


def test_root_run_again_writes_through_no_link_the_runners_user_planted(served: Path, tmp_path: Path) -> None:
    """The deploy folder is the runner user's: any job there can plant links where root writes next time (the staged
    config, the venv's lock). Root writes through none of them: a victim file stays as it was."""
    host.install(served, NOBODY)
    pid = int((served / "run/supervisord.pid").read_text())
    host.supervisor(served).shutdown()
    deadline = time.monotonic() + 60
    while not ended(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    victim = tmp_path / "victim"
    victim.write_text("root's own\n")
    for planted in ("supervisord.conf.new", "relaunch.py.new", f"{host.UNIT_NAME}.new", "host.lock"):
        (served / planted).unlink(missing_ok=True)
        (served / planted).symlink_to(victim)
    (served / "host/.complete").unlink()  # the venv is built again, under its lock
    host.install(served, NOBODY)
    assert victim.read_text() == "root's own\n" and victim.stat().st_uid == 0
