"""The serving machine of the `local` target: supervisord runs the front and every release, starts again whatever
dies, and starts them all at boot; a deploy only talks to it (io/supervisor.py) and never outlives a job by itself.

`retrain serve-host` (`make serve-host`), once per machine, writes into RETRAIN_DEPLOY_DIR:

    supervisord.conf       supervisord's config: its socket, its log, and every programs/*.conf
    retrain-serve.service  a systemd unit that runs supervisord at boot (installed when run as root under systemd)
    relaunch.py            what each program starts through: it ends the leftovers of the program's last run first
    host/                  supervisord's own venv (supervisor at the pin of requirements.lock, built with uv)

and starts supervisord where systemd does not run the machine. Then each deploy adds its files:

    programs/NAME.conf     one per process: `front` (nginx) and `release-TAG-PORT` (bentoml serve)
    venvs/HASH/            the libraries of a release: a uv venv from its Bento's requirements.lock, keyed by the
                           lock's pins (and the interpreter), shared by every release with the same lock
    run/                   supervisord's socket, log and pid; each program's last process group (relaunch.py)

A release never runs from the deploy job's checkout (whose `.venv` the next job's `actions/checkout` deletes), and a
rollback runs the old code (its Bento's wheel) on the old libraries (its Bento's lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import logging
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from retrain.errors import Failed
from retrain.io import files
from retrain.io.supervisor import Supervisor
from retrain.release import relaunch

log = logging.getLogger("retrain.deploy")
UNIT_NAME = "retrain-serve.service"

SUPERVISORD = """; Rendered by `retrain serve-host`: edits are overwritten.
[unix_http_server]
file={run}/supervisor.sock
chmod=0700

[supervisord]
logfile={run}/supervisord.log
logfile_maxbytes=10MB
pidfile={run}/supervisord.pid
childlogdir={run}
directory={home}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{run}/supervisor.sock

[include]
files = {home}/programs/*.conf
"""

PROGRAM = """; Written by retrain deploy: supervisord runs it, again after a crash, and at boot.
[program:{name}]
command={command}
directory={directory}
environment={environment}
autostart=true
autorestart=true
startsecs=1
startretries=5
stopsignal={stop_signal}
stopwaitsecs=30
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={log}
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=2
"""

UNIT = """# Written by `retrain serve-host`. As root: cp {unit} /etc/systemd/system/ && systemctl enable --now {name}
[Unit]
Description=retrain serving host: supervisord, running the front (nginx) and the live release
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User={user}
Environment=DO_NOT_TRACK=true BENTOML_DO_NOT_TRACK=true
ExecStart={supervisord} --nodaemon --configuration {config}
# supervisord stops its programs on SIGTERM (each its stop signal, then SIGKILL after stopwaitsecs)
KillMode=mixed
TimeoutStopSec=60
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
"""


class HostError(Failed):
    """The serving host is not set up, or a release's environment could not be built."""


def supervisor(home: Path) -> Supervisor:
    return Supervisor(home / "run/supervisor.sock")


def connect(home: Path) -> Supervisor:
    """The host's supervisord; a clear error when none answers (it is set up once per machine, not per deploy)."""
    running = supervisor(home)
    if not running.alive():
        raise HostError(
            f"no supervisord answers on {running.path}: on the serving machine, run `make serve-host` once "
            f"(with RETRAIN_DEPLOY_DIR={home}); README: Deploy"
        )
    return running


def _quoted(value: str) -> str:
    """A value as supervisor's config reads it: in double quotes (its shlex is not POSIX: no escapes, so program()
    refuses quotes and backslashes), its own %(name)s expansion escaped."""
    return '"' + value.replace("%", "%%") + '"'


def program(
    home: Path, name: str, command: list[str], directory: Path, log_file: Path, stop_signal: str, **env: str
) -> None:
    """programs/NAME.conf: supervisord runs `command` through relaunch.py, in `directory`, with `env` added."""
    # supervisor reads environment= with a non-POSIX shlex (no escapes) and its config parser takes " ;" and " #"
    # for the start of a comment: values it would misread are refused, by name
    for key, value in [*[(f"command[{i}]", part) for i, part in enumerate(command)], *env.items()]:
        if any(bad in value for bad in ("\n", '"', "\\", " ;", " #", "\t;", "\t#")):
            raise HostError(f"program {name}: {key} holds a newline, a quote, a backslash or a comment mark: {value!r}")
    if any("%" in str(path) or " ;" in str(path) or " #" in str(path) for path in (directory, log_file)):
        raise HostError(f"program {name}: RETRAIN_DEPLOY_DIR must hold no '%', ' ;' or ' #': {directory}")
    wrapped = [str(home / "host/bin/python"), str(home / "relaunch.py"), str(home / f"run/{name}.pid"), *command]
    text = PROGRAM.format(
        name=name,
        command=shlex.join(wrapped).replace("%", "%%"),
        directory=directory,
        environment=",".join(f"{key}={_quoted(value)}" for key, value in sorted(env.items())),
        stop_signal=stop_signal,
        log=log_file,
    )
    files.replace_text(home / "programs" / f"{name}.conf", text)
    (home / "programs" / f"{name}.conf").chmod(0o600)  # its environment may hold a webhook URL


def forget(home: Path, name: str) -> None:
    """Stop a program, end anything of its run that outlived the stop (BentoML's worker runs in a session of its
    own, out of reach of stopasgroup), and remove its file (so supervisord does not start it at boot)."""
    connect(home).remove(name)
    done = relaunch.end_previous(home / f"run/{name}.pid")
    if done:
        log.info("deploy: %s: %s", name, done)
    (home / "programs" / f"{name}.conf").unlink(missing_ok=True)


def install(home: Path) -> list[str]:
    """`retrain serve-host`: write supervisord's config, its unit and relaunch.py, build its venv, and start it
    (systemd, as root, where systemd runs the machine; else supervisord itself). What was done, one line each."""
    home = home.resolve()
    run = home / "run"
    if len(str(run / "supervisor.sock")) > 100:
        raise HostError(f"{run / 'supervisor.sock'} is too long for a unix socket: choose a shorter RETRAIN_DEPLOY_DIR")
    for folder in (run, home / "programs"):
        folder.mkdir(parents=True, exist_ok=True)
    files.replace_text(home / "relaunch.py", Path(relaunch.__file__).read_text())
    config = home / "supervisord.conf"
    files.replace_text(config, SUPERVISORD.format(run=run, home=home))
    daemon = _host_venv(home) / "bin/supervisord"
    unit = home / UNIT_NAME
    user = pwd.getpwuid(os.geteuid()).pw_name
    files.replace_text(unit, UNIT.format(unit=unit, name=UNIT_NAME, user=user, supervisord=daemon, config=config))
    done = [f"wrote {config}, {unit} and {home / 'relaunch.py'}"]
    running = supervisor(home)
    if running.alive():
        return [*done, f"supervisord already answers on {running.path}"]
    if Path("/run/systemd/system").is_dir():  # systemd is PID 1 (sd_booted)
        if os.geteuid() != 0:
            return [*done, f"as root: cp {unit} /etc/systemd/system/ && systemctl enable --now {UNIT_NAME}"]
        shutil.copy(unit, Path("/etc/systemd/system") / UNIT_NAME)
        subprocess.run(["systemctl", "daemon-reload"], check=True)
        subprocess.run(["systemctl", "enable", "--now", UNIT_NAME], check=True)
        done.append(f"installed and started {UNIT_NAME}")
    else:
        subprocess.run([str(daemon), "--configuration", str(config)], check=True, env=_quiet_env())  # daemonizes
        done.append(
            f"started supervisord (no systemd on this machine: start it at boot, e.g. the crontab line "
            f"`@reboot {daemon} --configuration {config}`)"
        )
    deadline = time.monotonic() + 30
    while not running.alive():
        if time.monotonic() > deadline:
            raise HostError(f"supervisord did not answer on {running.path} within 30 s: see {run / 'supervisord.log'}")
        time.sleep(0.1)
    return done


def _quiet_env() -> dict[str, str]:
    """What supervisord itself starts with: no job secrets (each program gets its own allow-listed environment)."""
    keep = ("PATH", "HOME", "LANG", "LC_", "TZ", "TMPDIR", "DO_NOT_TRACK", "BENTOML_DO_NOT_TRACK")
    return {key: value for key, value in os.environ.items() if key.startswith(keep)}


def _python() -> str:
    """The interpreter under whatever venv runs this (a job's, a release's): the one every venv is built on."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(found).exists():
        raise HostError("uv is not on PATH: `make setup-dev` installs it (requirements-dev.lock)")
    return found


def _build(target: Path, requirements: list[str]) -> None:
    """A venv at `target` with `requirements` (pip arguments), from uv's cache when it holds them all, else fetched."""
    with (target.parent / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two deploys building the same venv: the second waits, then reuses it
        if (target / ".complete").exists():
            return
        shutil.rmtree(target, ignore_errors=True)  # a build that was killed halfway
        started = time.monotonic()
        uv = _uv()
        subprocess.run([uv, "venv", "--quiet", "--python", _python(), str(target)], check=True)
        install = [uv, "pip", "install", "--quiet", "--python", str(target / "bin/python"), *requirements]
        offline = subprocess.run([*install, "--offline"], capture_output=True, text=True, check=False)
        if offline.returncode != 0:
            log.info("deploy: uv's cache does not hold everything for %s: fetching", target.name)
            online = subprocess.run(install, capture_output=True, text=True, check=False)
            if online.returncode != 0:
                raise HostError(f"uv could not build {target}: {online.stderr.strip()[-2000:]}")
        (target / ".complete").write_text(f"{' '.join(requirements)}\n")
        log.info("deploy: built %s in %.1f s", target, time.monotonic() - started)


def venv_path(home: Path, lock: Path) -> Path:
    """Where the venv for `lock` lives: keyed by the lock's pins (sorted, once each: `bentoml build` writes the lock
    into the Bento with its comments unindented and its own pin added again) and the interpreter that builds it."""
    lines = {re.sub(r"(^|\s)#.*", "", line).strip() for line in lock.read_text().splitlines()}
    pins = "\n".join(sorted(lines - {""}))
    key = hashlib.sha256((pins + sys.version + _python()).encode()).hexdigest()[:16]
    return home / "venvs" / key


def release_venv(home: Path, lock: Path) -> Path:
    """The venv for a Bento whose requirements.lock is `lock`: reused when one was built from the same lock (and
    interpreter), else built with uv, bytecode compiled (a release restarted after a crash compiles nothing)."""
    target = venv_path(home, lock)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (target / ".complete").exists():
        _build(target, ["--compile-bytecode", "-r", str(lock)])
    return target


def _host_venv(home: Path) -> Path:
    target = home / "host"
    if not (target / ".complete").exists():
        _build(target, [f"supervisor=={importlib.metadata.version('supervisor')}"])
    return target
