"""relaunch.py, which every supervised program starts through: it ends what the program's last run left, and only
that (its pidfile records the group's leader and the leader's identity, boot id and start time)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from retrain.release import relaunch

# A leader (in its own session and group, as supervisord starts a program) with a child in its group.
SLEEP = "import time; time.sleep(60)"
FAMILY = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {SLEEP!r}]); {SLEEP}"


def _leader(*words: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", FAMILY, *words], start_new_session=True)


def _group(leader: int) -> list[int]:
    deadline = time.monotonic() + 10
    while len(members := relaunch._members(leader)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return members


def _ended(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_an_impostor_on_the_recorded_pid_is_not_signalled(tmp_path: Path) -> None:
    """The recorded pid belongs to another process by now (the group ended, the pid was reused, or the machine
    rebooted): whatever its command line says, it is not ours."""
    impostor = _leader("bentoml", "serve", "nginx")
    members = _group(impostor.pid)
    try:
        (tmp_path / "pid").write_text(f"{impostor.pid} another-boot:12345\n")
        assert (
            relaunch.end_previous(tmp_path / "pid") == f"pid {impostor.pid} is another process now: nothing signalled"
        )
        assert impostor.poll() is None and not any(_ended(pid) for pid in members)
    finally:
        os.killpg(impostor.pid, signal.SIGKILL)
        impostor.wait()


def test_the_children_a_killed_leader_left_are_ended(tmp_path: Path) -> None:
    """`kill -9` of nginx's master leaves its workers holding the port: the next run ends them first."""
    leader = _leader()
    members = _group(leader.pid)
    (tmp_path / "pid").write_text(f"{leader.pid} {relaunch.identity(leader.pid)}\n")
    os.kill(leader.pid, signal.SIGKILL)
    leader.wait()
    assert (
        relaunch.end_previous(tmp_path / "pid") == f"ended what was left of the last run (process group {leader.pid})"
    )
    deadline = time.monotonic() + 10
    while not all(_ended(pid) for pid in members) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_ended(pid) for pid in members)


def test_a_last_run_still_running_is_stopped_when_supervisord_starts_again(tmp_path: Path) -> None:
    """supervisord was killed, its programs were not: the one recorded, same identity, is ended with its group."""
    leader = _leader()
    members = _group(leader.pid)
    (tmp_path / "pid").write_text(f"{leader.pid} {relaunch.identity(leader.pid)}\n")
    relaunch.end_previous(tmp_path / "pid", wait=5)
    leader.wait(timeout=10)
    assert all(_ended(pid) for pid in members)
