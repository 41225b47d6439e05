"""The serving machine of the `local` target: supervisord runs the front and every release, starts again whatever
dies, and starts them all at boot; a deploy only talks to it (io/supervisor.py) and never outlives a job by itself.

`retrain serve-host` (`make serve-host`), once per machine, for the user the machine's runner runs as (run as root,
`--user`, by default the user who ran sudo; else the user running it), writes into RETRAIN_DEPLOY_DIR (by default in
that user's home), everything that user's:

    supervisord.conf       supervisord's config: its socket, its log, and every programs/*.conf
    retrain-serve.service  a systemd unit that runs supervisord at boot (installed when run as root under systemd)
    relaunch.py            what each program starts through: it ends the leftovers of the program's last run first
    host/                  supervisord's own venv (supervisor at the pin of requirements.lock, built with uv)

and starts supervisord as that user where systemd does not run the machine: that user's jobs (deploy, health)
reach its socket (mode 0700) and write its programs. Then each deploy adds its files:

    programs/NAME.conf     one per process: `front` (nginx) and `release-TAG-PORT` (bentoml serve)
    venvs/HASH/            the libraries of a release: a uv venv from its Bento's requirements.lock, keyed by the
                           lock's pins (and the interpreter), shared by every release with the same lock
    run/                   supervisord's socket, log and pid; each program's last process group (relaunch.py)

A release never runs from the deploy job's checkout (whose `.venv` the next job's `actions/checkout` deletes), and a
rollback runs the old code (its Bento's wheel) on the old libraries (its Bento's lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
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
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from retrain.errors import BadInput, Failed
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
Group={group}
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


def account(user: str | None) -> pwd.struct_passwd:
    """Whom the host serves: `user`; else, as root, the user who ran sudo; else whoever runs this. Root without sudo
    must name one: the runner refuses to run as root by default, and a host that root serves is root's alone (the
    unit runs as root, the socket is 0700)."""
    if user is None and os.geteuid() == 0:
        user = os.environ.get("SUDO_USER") or None
        if user is None:
            raise BadInput(
                "serve-host as root: name the user the serving machine's runner runs as, `make serve-host "
                "SERVE_USER=<user>` (`retrain serve-host --user <user>`; SERVE_USER=root if the runner runs as root)"
            )
    if user is None:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise BadInput(f"serve-host: there is no user {user!r} on this machine (SERVE_USER, --user)") from None


def install(home: Path, account: pwd.struct_passwd | None = None) -> list[str]:
    """`retrain serve-host`: write supervisord's config, its unit and relaunch.py, build its venv, and start it
    (systemd, as root, where systemd runs the machine; else supervisord itself), all for `account` (default: whoever
    runs this). Root may set it up for another user, the one the runner runs as: then everything in `home` is made
    that user's, supervisord's venv is built by that user (on a Python it can run: root's may live in root's home)
    and supervisord runs as that user. What was done, one line each."""
    if account is None:
        account = pwd.getpwuid(os.geteuid())
    other = account.pw_uid != os.geteuid()
    if other and os.geteuid() != 0:
        raise HostError(f"only root sets the serving host up for another user ({account.pw_name}): run it as root")
    home = home.resolve()
    run = home / "run"
    if len(str(run / "supervisor.sock")) > 100:
        raise HostError(f"{run / 'supervisor.sock'} is too long for a unix socket: choose a shorter RETRAIN_DEPLOY_DIR")
    for folder in (run, home / "programs"):
        _make_folder(folder, account)
    _write(home / "relaunch.py", Path(relaunch.__file__).read_text(), account)
    config = home / "supervisord.conf"
    _write(config, SUPERVISORD.format(run=run, home=home), account)
    daemon = home / "host/bin/supervisord"
    unit = home / UNIT_NAME
    group = grp.getgrgid(account.pw_gid).gr_name
    text = UNIT.format(unit=unit, name=UNIT_NAME, user=account.pw_name, group=group, supervisord=daemon, config=config)
    _write(unit, text, account)  # for reference, and for root to copy when this is not root
    if other:
        _give(home, account)  # with whatever a host that root served before left in it
    _host_venv(home, account)
    done = [f"wrote {config}, {unit} and {home / 'relaunch.py'}, for {account.pw_name}"]
    running = supervisor(home)
    if running.alive():
        owner = running.path.stat().st_uid
        if owner != account.pw_uid:
            raise HostError(
                f"a supervisord run by {_name(owner)} answers on {running.path}, whose socket {account.pw_name}'s "
                f"jobs cannot use: stop it (`systemctl stop {UNIT_NAME}`, or kill the pid in {run}/supervisord.pid) "
                f"and run `make serve-host` again"
            )
        return [*done, f"supervisord already answers on {running.path}"]
    if Path("/run/systemd/system").is_dir():  # systemd is PID 1 (sd_booted)
        if os.geteuid() != 0:
            return [*done, f"as root: cp {unit} /etc/systemd/system/ && systemctl enable --now {UNIT_NAME}"]
        files.replace_text(Path("/etc/systemd/system") / UNIT_NAME, text)  # never the copy the runner's user owns
        subprocess.run(["systemctl", "daemon-reload"], check=True)
        subprocess.run(["systemctl", "enable", UNIT_NAME], check=True)
        # restart, not start: a unit already running (an older definition, root's) serves no socket of this folder
        subprocess.run(["systemctl", "restart", UNIT_NAME], check=True)
        done.append(f"installed and started {UNIT_NAME}, running as {account.pw_name}")
    else:
        start = [str(daemon), "--configuration", str(config)]
        subprocess.run(start, check=True, **({"env": _quiet_env()} | _as(account, _quiet_env())))  # daemonizes
        crontab = f"{account.pw_name}'s crontab (crontab -u {account.pw_name} -e)" if other else "crontab"
        done.append(
            f"started supervisord as {account.pw_name} (no systemd on this machine: start it at boot, e.g. the line "
            f"`@reboot {shlex.join(start)}` in {crontab})"
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


def _network_env() -> dict[str, str]:
    """_quiet_env, and how this machine reaches the package index (its CA bundle, its proxies): uv run for another
    user gets no more of root's environment (UV_CACHE_DIR, XDG_* would name root's folders)."""
    network = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")
    return _quiet_env() | {key: value for key, value in os.environ.items() if key.upper() in network}


def _as(account: pwd.struct_passwd, env: dict[str, str]) -> dict[str, Any]:
    """subprocess.run's arguments that run a command as `account`, with `env` and that user's HOME, USER and
    LOGNAME: none when `account` runs this process."""
    if account.pw_uid == os.geteuid():
        return {}
    return {
        "user": account.pw_uid,
        "group": account.pw_gid,
        "extra_groups": os.getgrouplist(account.pw_name, account.pw_gid),
        "env": env | {"HOME": account.pw_dir, "USER": account.pw_name, "LOGNAME": account.pw_name},
    }


def _name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _make_folder(folder: Path, account: pwd.struct_passwd) -> None:
    """`folder` with its missing parents, those made `account`'s (root making ~runner/.local/state/retrain)."""
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    if account.pw_uid != os.geteuid():
        for path in missing:
            os.chown(path, account.pw_uid, account.pw_gid)


def _write(path: Path, text: str, account: pwd.struct_passwd) -> None:
    """`text` to `path` atomically, `account`'s, through no link: the folder is the runner user's, and its jobs could
    plant a link where root writes next (`path.new` -> /etc/shadow). The staged file is made anew (O_EXCL and
    O_NOFOLLOW: a link planted meanwhile is an error, never written through) and renamed over `path` (a rename
    replaces a link there, never follows it)."""
    staged = path.with_name(f"{path.name}.new")
    staged.unlink(missing_ok=True)
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
        if account.pw_uid != os.geteuid():
            os.fchown(handle.fileno(), account.pw_uid, account.pw_gid)
    staged.replace(path)


def _open_lock(path: Path) -> IO[str]:
    """The lock file at `path`, opened through no link (a link planted there is removed first; one planted
    meanwhile is an error), as _write."""
    if path.is_symlink():
        path.unlink()
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644), "w")


def _give(home: Path, account: pwd.struct_passwd) -> None:
    """Everything in `home` made `account`'s (links themselves, never what they point to)."""
    for folder, names, file_names in os.walk(home):
        for path in (Path(folder), *(Path(folder, name) for name in [*names, *file_names])):
            if path.lstat().st_uid != account.pw_uid:
                os.lchown(path, account.pw_uid, account.pw_gid)


def _runs(account: pwd.struct_passwd, *command: str) -> bool:
    """Whether `command` succeeds when `account` runs it."""
    try:
        ran = subprocess.run(list(command), capture_output=True, check=False, **_as(account, _quiet_env()))
    except OSError:  # that user may not execute it
        return False
    return ran.returncode == 0


def _python() -> str:
    """The interpreter under whatever venv runs this (a job's, a release's): the one every venv is built on."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(found).exists():
        raise HostError("uv is not on PATH: `make setup-dev` installs it (requirements-dev.lock)")
    return found


@contextlib.contextmanager
def _uv_for(account: pwd.struct_passwd, folder: Path) -> Iterator[str]:
    """uv, runnable by `account`: the one on PATH, or for another user a copy of it in `folder` made that user's
    (root's uv may live where that user cannot enter), removed afterwards."""
    uv = _uv()
    if account.pw_uid == os.geteuid():
        yield uv
        return
    copy = Path(tempfile.mkdtemp(prefix=".uv-", dir=folder))
    try:
        shutil.copy(uv, copy / "uv")
        for path in (copy, copy / "uv"):
            os.chown(path, account.pw_uid, account.pw_gid)
        yield str(copy / "uv")
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def _build(target: Path, requirements: list[str], account: pwd.struct_passwd | None = None) -> None:
    """A venv at `target` with `requirements` (pip arguments), from uv's cache when it holds them all, else fetched.
    For another user than this process's (root setting the host up for the runner's): built by that user, on the
    Python of this one's version that uv finds for that user (the machine's, that user's managed one, else it
    installs one), with no cache (root's is not that user's to write, and that user's home may have none)."""
    account = account or pwd.getpwuid(os.geteuid())
    other = account.pw_uid != os.geteuid()
    lock_path = target.parent / f"{target.name}.lock"
    with _open_lock(lock_path) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two deploys building the same venv: the second waits, then reuses it
        if (target / ".complete").exists():
            return
        shutil.rmtree(target, ignore_errors=True)  # a build that was killed halfway
        started = time.monotonic()
        python, cache, run_as = _python(), [], {}
        if other:
            os.fchown(lock.fileno(), account.pw_uid, account.pw_gid)
            python, cache = f"{sys.version_info.major}.{sys.version_info.minor}", ["--no-cache"]
            run_as = _as(account, _network_env())
        with _uv_for(account, target.parent) as uv:
            subprocess.run([uv, "venv", "--quiet", *cache, "--python", python, str(target)], check=True, **run_as)
            install = [uv, "pip", "install", "--quiet", *cache, "--python", str(target / "bin/python"), *requirements]
            if other or subprocess.run([*install, "--offline"], capture_output=True, check=False).returncode != 0:
                log.info("deploy: %s: fetching what uv's cache does not hold", target.name)
                online = subprocess.run(install, capture_output=True, text=True, check=False, **run_as)
                if online.returncode != 0:
                    raise HostError(f"uv could not build {target}: {online.stderr.strip()[-2000:]}")
        (target / ".complete").write_text(f"{' '.join(requirements)}\n")
        if other:
            os.chown(target / ".complete", account.pw_uid, account.pw_gid)
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


def _host_venv(home: Path, account: pwd.struct_passwd) -> Path:
    """supervisord's venv, built again when `account` cannot run it (built by root before it served another user)."""
    target = home / "host"
    python = str(target / "bin/python")
    if (target / ".complete").exists() and not _runs(account, python, "-c", "import supervisor"):
        (target / ".complete").unlink()
    if not (target / ".complete").exists():
        _build(target, [f"supervisor=={importlib.metadata.version('supervisor')}"], account)
    return target
