"""relaunch.py, which every supervised program starts through: it ends what the program's last run left, and only
that. Runs are started as supervisord starts a program (a new process group) through relaunch.py itself, which
records the leader and marks the run's environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retrain.release import relaunch
from tests.support import ended

SLEEP = "import time; time.sleep(60)"
# A leader with two children: one in its process group (as nginx's workers), one in a session of its own (as
# BentoML's worker, which circus starts with setsid).
FAMILY = (
    "import subprocess, sys; "
    f"subprocess.Popen([sys.executable, '-c', {SLEEP!r}]); "
    f"subprocess.Popen([sys.executable, '-c', {SLEEP!r}], start_new_session=True); {SLEEP}"
)


def _run(pidfile: Path, *words: str) -> tuple[subprocess.Popen[bytes], list[int]]:
    """A run started through relaunch.py; the leader and the processes of the run once all three are up."""
    command = [sys.executable, relaunch.__file__, str(pidfile), sys.executable, "-c", FAMILY, *words]
    leader = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if pidfile.exists() and len(pidfile.read_text().split()) == 2:
            mark = f"{relaunch.MARK}={pidfile.read_text().split()[1]}".encode()
            if len(run := relaunch._run(leader.pid, mark, True)) == 3:
                return leader, run
        time.sleep(0.05)
    raise AssertionError("the run did not start its children")


def _allended(pids: list[int]) -> bool:
    deadline = time.monotonic() + 10
    while not all(ended(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return all(ended(pid) for pid in pids)


def test_an_impostor_on_the_recorded_pid_is_not_signalled(tmp_path: Path) -> None:
    """The recorded pid belongs to another process by now (the run ended, the pid was reused, or the machine
    rebooted): whatever its command line says, neither it nor its group is ours."""
    impostor = subprocess.Popen([sys.executable, "-c", SLEEP, "bentoml", "serve", "nginx"], start_new_session=True)
    try:
        (tmp_path / "pid").write_text(f"{impostor.pid} another-boot:12345\n")
        assert relaunch.end_previous(tmp_path / "pid") == ""
        assert impostor.poll() is None
    finally:
        impostor.kill()
        impostor.wait()


def test_what_a_leader_killed_with_sigkill_left_is_ended_in_its_group_and_in_its_own_session(tmp_path: Path) -> None:
    """`kill -9` of nginx's master leaves its workers holding the port; of `bentoml serve`, its worker: the next
    run ends them first."""
    leader, run = _run(tmp_path / "pid")
    os.kill(leader.pid, signal.SIGKILL)
    leader.wait()
    done = relaunch.end_previous(tmp_path / "pid")
    assert done == f"ended what was left of the last run (2 processes, of leader {leader.pid})"
    assert _allended(run)


def test_a_last_run_still_running_is_stopped_when_supervisord_starts_again(tmp_path: Path) -> None:
    """supervisord was killed, its programs were not: the run recorded, same identity, is ended whole."""
    leader, run = _run(tmp_path / "pid")
    relaunch.end_previous(tmp_path / "pid", wait=5)
    leader.wait(timeout=10)
    assert _allended(run)


def _tick(pid: int) -> str:
    """When the process started, in clock ticks since boot: the last part of its identity."""
    return relaunch.identity(pid).rsplit(":", 1)[1]


def test_a_run_started_in_the_same_clock_tick_as_another_is_not_taken_for_it(tmp_path: Path) -> None:
    """supervisord starts every program within milliseconds at boot, so the front and the live release can start in
    the same clock tick: removing the front (its last run ended) must leave the release alone."""
    pair: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(50):  # until two runs start in the same tick, the case at hand (most tries: 10 ms ticks)
            for process in pair:
                process.kill()
                process.wait()
            pair = [
                subprocess.Popen(
                    [sys.executable, relaunch.__file__, str(tmp_path / name), sys.executable, "-c", SLEEP],
                    start_new_session=True,
                )
                for name in ("front.pid", "release.pid")
            ]
            if _tick(pair[0].pid) == _tick(pair[1].pid):
                break
        else:
            raise AssertionError("no two processes started in the same clock tick in 50 tries")
        front, release = pair
        deadline = time.monotonic() + 10
        while not all(relaunch.MARK.encode() in Path(f"/proc/{p.pid}/environ").read_bytes() for p in pair):
            assert time.monotonic() < deadline, "the runs did not start"
            time.sleep(0.02)
        front.kill()
        front.wait()
        relaunch.end_previous(tmp_path / "front.pid")
        with pytest.raises(subprocess.TimeoutExpired):
            release.wait(timeout=0.5)  # still running
    finally:
        for process in pair:
            process.kill()
            process.wait()
