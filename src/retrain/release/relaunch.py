"""`python relaunch.py PIDFILE COMMAND...`: end what is left of the program's last run, then become COMMAND.

supervisord runs every program of the serving host through this (host.py copies it into RETRAIN_DEPLOY_DIR, next to
supervisord's config, so it never depends on a checkout). A program whose main process was killed with SIGKILL can
leave processes serving: nginx's workers keep the port and the old upstream, BentoML's worker (in a session of its
own, so out of reach of supervisord's stopasgroup) keeps the release's port; so does every program when supervisord
itself was killed. PIDFILE records each run: the leader's pid and identity (boot id, pid and start time). A run's
processes are its leader's process group (nginx's workers) and every process whose environment carries the run's
mark, RETRAIN_RUN=<identity>, which this sets before exec and children inherit (BentoML's worker). Before the new
run, and when a program is removed (host.forget):
- the leader is alive and is the one recorded (supervisord was restarted): SIGTERM the run, SIGKILL after 10 s;
- the leader is gone: SIGKILL what is left of the run (its group's members are ours: Linux gives no new process a
  pid that is still a group's id; the mark is ours);
- another process has the leader's pid (the run ended, the pid was reused): its group is not signalled.
Standard library only: it runs on the host venv's Python, which holds supervisor alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

MARK = "RETRAIN_RUN"  # in the environment of every process of a run


def identity(pid: int) -> str:
    """What names one process for ever: this boot's id, the pid and its start time (clock ticks since boot), from
    /proc. Another process on the same pid, now or after a reboot, has another identity; so has one started in the
    same tick (supervisord starts its programs within milliseconds at boot). "" without /proc."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""
    return f"{boot}:{pid}:{started}"


def _run(group: int, mark: bytes, by_group: bool) -> list[int]:
    """The live processes of a run: its process group's (when `by_group`) and those carrying its mark (a zombie has
    ended: only its parent's wait is missing)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            pid = int(entry.name)
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if pid == os.getpid() or fields[0] == "Z":
                continue
            if (by_group and int(fields[2]) == group) or mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(pid)
    return found


def end_previous(pidfile: Path, wait: float = 10) -> str:
    """What was done about the run PIDFILE records, one line ("" when there was nothing to do)."""
    try:
        pid_text, recorded = pidfile.read_text().split()
        group = int(pid_text)
    except (OSError, ValueError):
        return ""
    if group <= 1 or group == os.getpgrp():
        return ""
    now = identity(group)
    mark = f"{MARK}={recorded}".encode()
    by_group = not now or now == recorded  # a pid reused by another process: its group is not ours
    if not (run := _run(group, mark, by_group)):
        return ""
    if now == recorded:
        for pid in run:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while _run(group, mark, by_group) and time.monotonic() < deadline:
            time.sleep(0.1)
    for pid in _run(group, mark, by_group):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return f"ended what was left of the last run ({len(run)} processes, of leader {group})"


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        sys.exit("usage: relaunch.py PIDFILE COMMAND [ARG...]")
    pidfile, command = Path(argv[1]), argv[2:]
    done = end_previous(pidfile)
    if done:
        print(f"relaunch: {done}", flush=True)
    me = identity(os.getpid())  # exec keeps the pid and the start time
    pidfile.write_text(f"{os.getpid()} {me}\n")
    os.environ[MARK] = me
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv)
