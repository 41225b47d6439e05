"""`retrain deploy`: put a verified Bento live on a deploy target.

Every target first checks that the Bento holds exactly the model that dvc.lock names (the md5 of the file inside the
Bento, of the dvc.lock inside the Bento, and of the checkout's dvc.lock must agree).

`local`, a machine that runs the service itself (a self-hosted runner), keeps everything under one folder, the
RETRAIN_DEPLOY_DIR that `retrain serve-host` set up (host.py: supervisord, which runs every process below):

    state.json     the live release and the one before it (bento tag, model md5, commit, port, program), the front
    front/         nginx on `deploy.port` (front.py): its config, upstream.conf naming the live release, its logs
    releases/TAG/  the package unpacked from the Bento's wheel (the code that release runs) and its logs
    venvs/HASH/    the libraries the releases run on, one venv per Bento requirements.lock (host.py)

A deploy starts the new Bento on a free port as a supervised program, waits until it is ready and names the expected
md5, rewrites the front's upstream and reloads it (the switch: nginx's old workers finish what they hold), lets the
old release finish its requests, then has supervisord stop it. If the new one does not come up, it is stopped and
the old one never stopped serving. Each step is recorded in state.json before it is taken, so a deploy killed at any
point is finished or undone by the next one or by `--repair`; processes are signalled by supervisord alone, which
knows each one it started. `--previous` deploys the release that was live before, the same way.
`bentocloud` applies the deployment (created the first time, updated after); `container` logs in to the registry,
then runs `bentoml containerize`, `docker push` and the $DEPLOY_HOOK command.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import logging
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from retrain.errors import BadInput, Failed
from retrain.io import files, http, modelfile, vcs
from retrain.params import Deploy, Params
from retrain.release import canary, front, host, smoke

log = logging.getLogger("retrain.deploy")


class DeployError(Failed):
    """The deployment did not happen; what is live is what was live before."""


@dataclass(frozen=True)
class Release:
    bento: str
    md5: str
    commit: str
    port: int = 0
    program: str = ""  # its name in the host's supervisord, which holds its process
    started_at: str = ""


def bento_path(tag: str) -> Path:
    import bentoml

    try:
        return Path(bentoml.bentos.get(tag).path)
    except bentoml.exceptions.NotFound as error:
        store = os.environ.get("BENTOML_HOME", "~/bentoml")
        raise DeployError(f"no Bento {tag} in {store}: run `make bento`") from error


def verify_bento(tag: str, expected_md5: str, model: Path) -> None:
    """The model file in the Bento, and the dvc.lock in the Bento, name the md5 that the checkout's dvc.lock names."""
    try:
        packed = modelfile.locked(bento_path(tag) / "src", model)
    except modelfile.ModelMismatch as error:
        raise DeployError(f"Bento {tag}: {error}: refusing to deploy it") from None
    if packed != expected_md5:
        raise DeployError(f"Bento {tag} holds model {packed}, but dvc.lock names {expected_md5}: refusing to deploy it")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# What a release may inherit from the deploy job: never its secrets (cloud keys, tokens, hooks).
INHERITED = (
    "PATH",
    "HOME",
    "LANG",
    "LC_",
    "TZ",
    "TMPDIR",
    "BENTOML_",
    "DO_NOT_TRACK",
    "RETRAIN_INFERENCE_LOG",
    "RETRAIN_LOG_SHIP",
    "RETRAIN_SHADOW_MODEL",
)
STEPS = ("starting", "canary", "switching", "draining")  # a deploy under way: each recorded before it is taken
ROLES = (*STEPS, "live")  # the state's entries that name a release's program
FRONT, HEALTH = "front", "health"
UP = ("STARTING", "RUNNING")  # supervisord's states of a running process (STARTING: for its first startsecs)


def read_state(home: Path) -> dict[str, Any]:
    """state.json as it is now ({} before the first deploy), without the lock: for reading only."""
    path = home / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


@contextlib.contextmanager
def locked_state(home: Path) -> Iterator[dict[str, Any]]:
    """state.json, with the folder locked against a concurrent deploy (or health check); saved on the way out."""
    path = home / "state.json"
    with (home / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = read_state(home)
        try:
            yield state
        finally:
            files.replace_text(path, json.dumps(state, indent=2, default=str) + "\n")


def busy(home: Path) -> bool:
    """Whether a deploy (or a repair, or a health rollback) holds the folder's lock now."""
    with (home / "lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False


WARM_UP = 10  # requests a new release answers before the front sends it one


def warm_up(url: str, golden: list[dict[str, Any]]) -> None:
    """The release's own golden records, one and all of them in turn, before it takes traffic: its first requests
    pay for lazy imports and the request path's first use, and a canary judged on a few dozen answers would be
    judged on those (a CI run: 5 of 37 over the p99 bound). Marked as probes: not inference traffic."""
    for attempt in range(WARM_UP):
        records = golden if attempt % 2 else golden[:1]
        http.request(f"{url}/predict", {"records": records}, timeout=30, headers={smoke.PROBE: "warm-up"})


class Local:
    """The `local` target: a front on a fixed port, releases on free ports behind it, all run by the host's
    supervisord (host.py)."""

    def __init__(self, home: Path, settings: Deploy, max_body_bytes: int) -> None:
        self.home, self.host, self.port = home, settings.host, settings.port
        self.ready_timeout, self.drain_seconds = settings.ready_timeout, settings.drain_seconds
        self.front_settings, self.max_body_bytes = settings.front, max_body_bytes
        self.canary_settings = settings.canary
        self.state_file, self.front_dir = home / "state.json", home / "front"
        home.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The state, with the folder locked against a concurrent deploy; saved on the way out."""
        with locked_state(self.home) as state:
            self.supervisor = host.connect(self.home)
            if any("pid" in state[role] for role in (*ROLES, FRONT) if isinstance(state.get(role), dict)):
                raise DeployError(
                    f"{self.state_file} names processes a deploy started before supervisord ran them: stop them "
                    "with that version's `retrain deploy --stop`, then deploy"
                )
            yield state

    def _save(self, state: dict[str, Any]) -> None:
        files.replace_text(self.state_file, json.dumps(state, indent=2, default=str) + "\n")

    def status(self) -> dict[str, Any]:
        return read_state(self.home)

    def deploy(self, release: Release, canary: bool = True, watch: bool = True) -> Release:
        """Start, canary (when deploy.canary.share > 0 and a release is live), switch, drain: each step is recorded
        in state.json before it is taken (`starting`, `canary`, `switching`, `draining`), so a deploy killed at any
        point is finished or undone by the next one, or by `repair`. A rollback passes canary=False, and the model
        that was live before (a revert) skips it too: they switch at once. Then the health check (health.py) runs
        on the new release's code, unless it is the caller."""
        with self._locked() as state:
            self._repair(state)
            self._ensure_front(state)
            old = Release(**state["live"]) if state.get("live") else None
            live = self._start(release, state)
            # no canary for the model that served just before (a revert, a dispatch of that ref): the known good one;
            # unless a health rollback took it off
            previous, events = state.get("previous") or {}, state.get("events", [])
            taken_off = {event["failing"]["program"] for event in events if "restored" in event}
            back = old is not None and release.md5 != old.md5 and release.md5 == previous.get("md5")
            back = back and previous.get("program") not in taken_off
            if old is not None and canary and not back and self.canary_settings.share > 0:
                self._canary(state, old, live)
            state["switching"] = asdict(live)
            self._save(state)
            switched = time.monotonic()
            try:
                self._switch(live)
            except (DeployError, ValueError):
                if old is not None:
                    self._point(old)
                self._forget(live.program)
                state.pop("switching")
                state.pop("starting", None)
                raise
            log.info(
                "deploy: switched in %.0f ms (nginx reloaded, the front answers with the new model)",
                (time.monotonic() - switched) * 1000,
            )
            self._promote(state, live, old)
            if old is not None:
                time.sleep(self.drain_seconds)  # requests already sent to the old release finish there
                self._forget(old.program)
            state.pop("draining", None)
            if watch:
                self._watch(live)
        log.info("deploy: %s (model %s) live on :%d behind :%d", live.bento, live.md5, live.port, self.port)
        return live

    def _watch(self, live: Release) -> None:
        """The supervised health check (`retrain health`), on the live release's code and venv; started again only
        when that changed."""
        folder = self.home / "releases" / live.bento.replace(":", "-")
        venv = Path(self._environment(live)["VIRTUAL_ENV"])
        own = bento_path(live.bento) / "src/params.yaml"  # its settings: of the code it runs
        command = [str(venv / "bin/python"), "-m", "retrain.cli.main", "--params", str(own), "health"]
        keep = ("RETRAIN_WEBHOOK_URL",)  # where it alerts
        env = self._environment(live) | {key: os.environ[key] for key in keep if key in os.environ}
        env["RETRAIN_DEPLOY_DIR"] = str(self.home)
        config = self.home / "programs" / f"{HEALTH}.conf"
        before = config.read_text() if config.exists() else ""
        host.program(self.home, HEALTH, command, folder, self.home / f"{HEALTH}.log", "TERM", **env)
        if config.read_text() != before or not self.supervisor.info(HEALTH):
            self.supervisor.remove(HEALTH)
            self.supervisor.add(HEALTH)

    def _canary(self, state: dict[str, Any], old: Release, new: Release) -> None:
        """Send deploy.canary.share of the requests to the new release until it has answered deploy.canary.requests
        (or failed beyond saving) or deploy.canary.minutes passed, then judge it against the champion on the same
        period (canary.py). Promoted: the deploy goes on to the switch. Else everything is routed back to the
        champion, the canary stopped, and the deploy fails with the analysis."""
        settings, access = self.canary_settings, self.front_dir / "access.log"
        state["canary"] = asdict(new)
        self._save(state)
        offset = access.stat().st_size if access.exists() else 0
        started, since = time.monotonic(), time.time()
        front.point(self.front_dir, old.port, new.port, settings.share)
        self._reload()
        period = canary.Period(f"127.0.0.1:{old.port}", f"127.0.0.1:{new.port}", offset)
        log.info("deploy: canary: %s takes %.0f%% of requests", new.bento, settings.share * 100)
        while True:
            sides = canary.read_access(access, period)
            timed_out = time.monotonic() - started >= settings.minutes * 60
            if timed_out or canary.enough(settings, *sides):
                break
            time.sleep(0.5)
        with_log = canary.read_probabilities(canary.log_folder(), since, sides)
        verdict = canary.judge(settings, *sides, with_log, timed_out)
        log.info("deploy: canary analysed in %.1f s: %s\n%s", time.monotonic() - started, verdict.reason, verdict.table)
        files.append_text("GITHUB_STEP_SUMMARY", verdict.table)
        state.pop("canary")
        if not verdict.promote:
            self._point(old)
            self._forget(new.program)
            state.pop("starting", None)
            self._save(state)
            raise DeployError(f"canary of {new.bento}: {verdict.reason}; every request goes to {old.bento} again")
        self._save(state)

    def _promote(self, state: dict[str, Any], live: Release, old: Release | None) -> None:
        """Record the switch: the new release is live, the old one the previous (and draining until it stops)."""
        state["live"], state["previous"] = asdict(live), asdict(old) if old else state.get("previous")
        if old is not None:
            state["draining"] = asdict(old)
        for step in ("starting", "switching"):
            state.pop(step, None)
        self._save(state)  # the switch is recorded before the old release stops

    def repair(self) -> list[str]:
        """`retrain deploy --repair`: finish or undo what a killed deploy left, and point the front at the release
        that state.json says is live. What it did, one line each."""
        with self._locked() as state:
            done = self._repair(state)
            if state.get("live") and state.get(FRONT):
                self._ensure_front(state)
                self._switch(Release(**state["live"]))  # and answers with its model: the reload has taken
                done.append(f"the front answers with the live release, {state['live']['bento']}")
        return done

    def _repair(self, state: dict[str, Any]) -> list[str]:
        """A deploy killed while switching is finished when its release still answers with its model (traffic may
        already be there), else undone; a release that was starting is stopped (it never had traffic); a release
        that was draining is stopped (its drain is long over); so is any release program that state.json does not
        name as live (an orphan)."""
        done: list[str] = []
        if state.get("canary"):
            new = Release(**state.pop("canary"))
            if state.get("live") and state.get(FRONT):
                self._ensure_front(state)
                self._point(Release(**state["live"]))
            self._forget(new.program)
            state.pop("starting", None)
            done.append(f"undid the canary of {new.bento}")
        if state.get("switching"):
            new, old = Release(**state["switching"]), Release(**state["live"]) if state.get("live") else None
            if self._answers(new):
                self._ensure_front(state)
                self._point(new)
                self._promote(state, new, old)
                done.append(f"finished the switch to {new.bento}")
            else:
                if old is not None and state.get(FRONT):
                    self._ensure_front(state)
                    self._point(old)
                self._forget(new.program)
                state.pop("switching")
                state.pop("starting", None)
                done.append(f"undid the switch to {new.bento}, which does not answer")
        if state.get("starting"):
            self._forget(state.pop("starting")["program"])
            done.append("stopped a release that was starting")
        if state.get("draining"):
            draining = Release(**state.pop("draining"))
            self._forget(draining.program)
            done.append(f"stopped {draining.bento}, which was draining")
        live = state["live"]["program"] if state.get("live") else None
        for name in self.supervisor.programs():
            if name.startswith("release-") and name != live:
                self._forget(name)
                done.append(f"stopped {name}, which state.json does not name")
        self._save(state)
        for line in done:
            log.info("deploy: repair: %s", line)
        return done

    def _answers(self, release: Release) -> bool:
        status, body = http.request(f"http://127.0.0.1:{release.port}/metadata")
        return status == 200 and json.loads(body).get("model") == release.md5

    def previous(self) -> Release:
        """The release that was live before the current one (for a rollback)."""
        previous = self.status().get("previous")
        if not previous:
            raise DeployError(f"{self.state_file} records no previous release: deploy an older ref instead")
        return Release(previous["bento"], previous["md5"], previous["commit"])

    def stop(self) -> None:
        """Stop the front and every release (supervisord, the host's service, keeps running)."""
        with self._locked() as state:
            for role in (*ROLES, FRONT):
                state.pop(role, None)
            for name in self.supervisor.programs():
                self._forget(name)
            if self.front_dir.is_dir():
                front.point(self.front_dir, None)

    def _forget(self, name: str) -> None:
        host.forget(self.home, name)

    def _supervise(self, name: str, command: list[str], folder: Path, stop_signal: str, **env: str) -> Path:
        """Run `command` as the supervised program `name` (its output: folder/NAME.log); the log's path."""
        log_file = folder / f"{name}.log"
        host.program(self.home, name, command, folder, log_file, stop_signal, **env)
        self.supervisor.add(name)
        return log_file

    def _front_token(self) -> str | None:
        """The token the front on our port answers with (nginx itself, never forwarded); None if nothing of ours."""
        status, body = http.request(f"http://127.0.0.1:{self.port}{front.IDENTITY}")
        try:
            return str(json.loads(body)["front"]) if status == 200 else None
        except (ValueError, KeyError, TypeError):
            return None

    def _ensure_front(self, state: dict[str, Any]) -> None:
        """nginx on deploy.port, its config rendered from params.yaml: started if it is not running, else reloaded
        (a changed limit applies without a restart)."""
        running, info = state.get(FRONT), self.supervisor.info(FRONT)
        up = info is not None and info["statename"] in UP
        if running and up and self._front_token() == running["token"]:
            self._render(running["token"])
            self._reload()
            return
        self._forget(FRONT)
        nginx = shutil.which("nginx")
        if nginx is None:
            raise DeployError("the local target's front is nginx, and it is not on PATH: apt-get install nginx-light")
        token = secrets.token_hex(16)
        self._render(token)
        log_file = self._supervise(FRONT, [nginx, *front.command(self.front_dir)[1:]], self.front_dir, "QUIT")
        try:
            self._wait_for(FRONT, lambda: self._front_token() == token, log_file, self.front_dir / "error.log")
        except DeployError as error:
            raise DeployError(f"port {self.port} is held by another process (`make serve`?), or {error}") from None
        state[FRONT] = {"program": FRONT, "port": self.port, "host": self.host, "token": token}

    def _render(self, token: str) -> None:
        front.render(self.front_dir, self.host, self.port, self.max_body_bytes, self.front_settings, token)

    def _reload(self) -> None:
        """SIGHUP: the nginx master checks the config and starts workers on it; the old ones stop accepting and
        finish the requests they hold. Done when every worker that accepts is a new one (a worker told to quit
        renames itself "worker process is shutting down"), so the next request sees the new upstream."""
        info = self.supervisor.info(FRONT)
        if not info or info["statename"] not in UP:
            return
        before = set(self._accepting(info["pid"]))
        self.supervisor.signal(FRONT, "HUP")
        if not Path("/proc").is_dir():
            time.sleep(0.5)  # nothing to watch: give the master time
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            accepting = set(self._accepting(info["pid"]))
            if accepting and not accepting & before:
                return
            time.sleep(0.02)
        tail = "\n".join((self.front_dir / "error.log").read_text(errors="replace").splitlines()[-5:])
        raise DeployError(f"the front did not reload within 10 s; {self.front_dir / 'error.log'}:\n{tail}")

    @staticmethod
    def _accepting(master: int) -> list[int]:
        """The front's worker processes that accept connections."""
        workers = []
        for entry in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != master:
                    continue
                title = (entry / "cmdline").read_bytes()
                if title.startswith(b"nginx: worker process") and b"shutting down" not in title:
                    workers.append(int(entry.name))
        return workers

    def _start(self, release: Release, state: dict[str, Any]) -> Release:
        """The release as a supervised program: its code (the Bento's wheel) on its libraries (a venv from the
        Bento's requirements.lock), on a free port, ready and answering with the expected model."""
        folder = self.home / "releases" / release.bento.replace(":", "-")
        site = folder / "site"
        bento = bento_path(release.bento)
        if not site.is_dir():
            (wheel,) = (bento / "env/python/wheels").glob("retrain-*.whl")
            staged = folder / "site.new"
            shutil.rmtree(staged, ignore_errors=True)
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(staged)
            staged.replace(site)
        host.release_venv(self.home, bento / "env/python/requirements.txt")
        port = _free_port()
        name = f"release-{release.bento.replace(':', '-')}-{port}"
        state["starting"] = {"program": name}
        self._save(state)  # if this deploy is killed now, the next one stops this program
        environment = self._environment(release)
        command = [environment["VIRTUAL_ENV"] + "/bin/bentoml", "serve", release.bento, "--host", "127.0.0.1"]
        log_file = self._supervise(name, [*command, "--port", str(port)], folder, "TERM", **environment)
        try:
            url = f"http://127.0.0.1:{port}/readyz"
            self._wait_for(name, lambda: http.request(url)[0] == 200, log_file)
            status, body = http.request(f"http://127.0.0.1:{port}/metadata")
            served = json.loads(body).get("model") if status == 200 else None
            if served != release.md5:
                raise DeployError(f"{release.bento} on :{port} serves model {served}, expected {release.md5}")
            warm_up(f"http://127.0.0.1:{port}", files.read_json(bento / "src/deploy/golden.json"))
        except (DeployError, ValueError):
            self._forget(state.pop("starting")["program"])
            raise
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        return Release(release.bento, release.md5, release.commit, port, name, started)

    def _environment(self, release: Release) -> dict[str, str]:
        """What the release's processes run with: its code, its venv, and the allow-listed part of ours (nothing
        from the deploy job's venv: the next job's checkout deletes it)."""
        venv = host.venv_path(self.home, bento_path(release.bento) / "env/python/requirements.txt")
        inherited = {key: value for key, value in os.environ.items() if key.startswith(INHERITED)}
        job = (sys.prefix,) if sys.prefix != sys.base_prefix else ()
        path = [entry for entry in os.environ.get("PATH", os.defpath).split(os.pathsep) if not entry.startswith(job)]
        return inherited | {
            "PATH": os.pathsep.join([str(venv / "bin"), *path]),
            "VIRTUAL_ENV": str(venv),
            "PYTHONPATH": str(self.home / "releases" / release.bento.replace(":", "-") / "site"),
            "OMP_NUM_THREADS": "1",
            "RETRAIN_COMMIT": release.commit,
            "RETRAIN_ROOT": str(bento_path(release.bento) / "src"),  # its params.yaml names the domain at import
        }

    def _wait_for(self, name: str, ready: Callable[[], bool], *logs: Path) -> None:
        """Until `ready()`; a DeployError with the log's tail when supervisord gave up on the program (FATAL: it
        exited too soon, too often) or after deploy.ready_timeout."""
        deadline = time.monotonic() + self.ready_timeout
        while not ready():
            info = self.supervisor.info(name)
            if not info or info["statename"] == "FATAL" or time.monotonic() > deadline:
                shown = next((path for path in logs[::-1] if path.exists() and path.stat().st_size), logs[0])
                tail = "\n".join(shown.read_text(errors="replace").splitlines()[-15:]) if shown.exists() else ""
                raise DeployError(f"{name} did not become ready within {self.ready_timeout:g} s; {shown}:\n{tail}")
            time.sleep(0.25)

    def _point(self, release: Release) -> None:
        front.point(self.front_dir, release.port)
        self._reload()

    def _switch(self, live: Release) -> None:
        """Point the front at the new release; done when the front answers with its model (new workers start within
        milliseconds of the reload)."""
        self._point(live)
        deadline, served = time.monotonic() + 10, None
        while time.monotonic() < deadline:
            status, body = http.request(f"http://127.0.0.1:{self.port}/metadata")
            served = json.loads(body).get("model") if status == 200 else None
            if served == live.md5:
                return
            time.sleep(0.05)
        raise DeployError(f"the front on :{self.port} answers with model {served}, not {live.md5}, after the switch")


def remote(target: str, tag: str) -> None:
    """Hand the verified Bento to BentoCloud or to a container registry (credentials from the environment)."""
    if target == "bentocloud":
        # the deployment is named for the Bento (the domain's name) unless the team names it
        _bentocloud(tag, os.environ.get("BENTOCLOUD_DEPLOYMENT") or tag.split(":")[0].replace("_", "-"))
        return
    registry = os.environ.get("REGISTRY")
    hook = os.environ.get("DEPLOY_HOOK")
    if not registry or not hook:
        raise DeployError("the container target needs REGISTRY (e.g. ghcr.io/org) and DEPLOY_HOOK (a command)")
    image = os.environ["IMAGE"] = f"{registry}/{tag}"  # the hook reads it: `kubectl set image ... api=$IMAGE`
    _login(registry.split("/", 1)[0])
    containerize = ["bentoml", "containerize", tag, "--image-tag", image]
    for command in (containerize, ["docker", "push", image], ["sh", "-c", hook]):
        log.info("deploy: %s", shlex.join(command))
        if subprocess.run(command, check=False).returncode != 0:
            raise DeployError(f"`{shlex.join(command)}` failed")


def _bentocloud(tag: str, name: str) -> None:
    """`apply`, not `bentoml deploy`: deploy only creates, so the second merge (or a rollback by redeploy) failed on
    the existing name. apply creates the deployment when BentoCloud has none of that name and updates it otherwise
    (bentoml/_internal/cloud/deployment.py, DeploymentAPI.apply), pushing the local Bento first (ensure_bento)."""
    import bentoml.deployment

    log.info("deploy: bentoml.deployment.apply(name=%r, bento=%r), then wait until it is ready", name, tag)
    try:
        deployment = bentoml.deployment.apply(name=name, bento=tag)
        ready = deployment.wait_until_ready(timeout=900)
    except bentoml.exceptions.BentoMLException as error:
        raise DeployError(f"BentoCloud deployment {name}: {error}") from None
    if ready != 0:
        raise DeployError(f"BentoCloud deployment {name} did not become ready with {tag} (see its events)")


def _login(host: str) -> None:
    """`docker login` to the registry's host with REGISTRY_USERNAME and REGISTRY_PASSWORD (deploy.yml passes the
    job's GITHUB_TOKEN and actor for ghcr.io, which needs `packages: write`); the password goes by stdin only."""
    user, password = os.environ.get("REGISTRY_USERNAME"), os.environ.get("REGISTRY_PASSWORD")
    if not user or not password:
        log.info("deploy: no REGISTRY_USERNAME/REGISTRY_PASSWORD: using docker's own login for %s", host)
        return
    command = ["docker", "login", host, "--username", user, "--password-stdin"]
    log.info("deploy: %s", shlex.join(command))
    if subprocess.run(command, input=password.encode(), check=False).returncode != 0:
        raise DeployError(f"`{shlex.join(command)}` failed: check REGISTRY_USERNAME and REGISTRY_PASSWORD")


def home(account: pwd.struct_passwd | None = None) -> Path:
    """The local target's folder: $RETRAIN_DEPLOY_DIR, else ~/.local/state/retrain (outside any checkout) of
    `account` (default: whoever runs this; serve-host as root: the user it sets the host up for)."""
    folder = os.environ.get("RETRAIN_DEPLOY_DIR")
    if folder:
        return Path(folder)
    return (Path(account.pw_dir) if account else Path.home()) / ".local/state/retrain"


def serve_host(user: str | None = None) -> list[str]:
    """`retrain serve-host`: set the serving machine up once, for `user` (host.py: by default the user who ran
    sudo, or whoever runs this)."""
    account = host.account(user)
    return host.install(home(account), account)


def run(
    params: Params, root: Path, bento: str | None, target: str, previous: bool, stop: bool, repair: bool = False
) -> str:
    """`retrain deploy`: deploy the Bento (after checking it holds the model dvc.lock names), roll back to the
    previous release, stop the local target, or repair what a killed deploy left; one line saying what happened."""
    settings = params.deploy
    local = Local(home(), settings, params.serve.max_body_bytes)
    if stop:
        local.stop()
        return "stopped: nothing is served on the local target"
    if repair:
        return "; ".join(local.repair()) or "nothing to repair"
    if previous:
        live = local.deploy(local.previous(), canary=False)
        return f"rolled back: {live.bento} (model {live.md5}, commit {live.commit[:8]}) live on :{settings.port}"
    if bento is None:
        raise BadInput("name the Bento to deploy (--bento NAME:TAG, built by `make bento`), or --previous, or --stop")
    md5 = modelfile.locked(root, params.paths.model)
    verify_bento(bento, md5, params.paths.model)
    if target != "local":
        remote(target, bento)
        return f"deployed: {bento} (model {md5}) to {target}"
    live = local.deploy(Release(bento, md5, vcs.commit(root) or "unknown"))
    return f"deployed: {live.bento} (model {live.md5}) live on :{settings.port}"
