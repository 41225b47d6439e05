"""`python relaunch.py PIDFILE COMMAND...`: end what is left of the program's last run, then become COMMAND.

supervisord runs every program of the serving host through this (host.py copies it into RETRAIN_DEPLOY_DIR, next to
supervisord's config, so it never depends on a checkout). A program whose main process was killed with SIGKILL can
leave children serving: nginx's workers keep the port and the old upstream, BentoML's workers the release's port; so
does every program when supervisord itself was killed. Each run leads its own process group (supervisord calls
setpgrp before exec), and PIDFILE records that group (the leader's pid) and the leader's identity. Before the new run:
- the leader is alive and is the one recorded (same boot id and start time): the old run is still there (supervisord
  was restarted); SIGTERM its group, SIGKILL after 10 s;
- the leader is gone: the members left in its group are ours (Linux does not give a pid that is still a group's id to
  a new process); SIGKILL them;
- another process has the pid (the group ended, and the pid was reused): nothing is signalled.
Standard library only: it runs on the host venv's Python, which holds supervisor alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path


def identity(pid: int) -> str:
    """What names one process for ever: this boot's id and the pid's start time (clock ticks since boot), from
    /proc. Another process on the same pid, now or after a reboot, has another identity. "" without /proc."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""
    return f"{boot}:{started}"


def _members(group: int) -> list[int]:
    members = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) == group:
                members.append(int(entry.name))
    return members


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
    if now and now != recorded:
        return f"pid {group} is another process now: nothing signalled"
    if not _members(group):
        return ""
    if now == recorded:
        os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while _members(group) and time.monotonic() < deadline:
            time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    return f"ended what was left of the last run (process group {group})"


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        sys.exit("usage: relaunch.py PIDFILE COMMAND [ARG...]")
    pidfile, command = Path(argv[1]), argv[2:]
    done = end_previous(pidfile)
    if done:
        print(f"relaunch: {done}", flush=True)
    pidfile.write_text(f"{os.getpid()} {identity(os.getpid())}\n")  # exec keeps the pid and the start time
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv)
