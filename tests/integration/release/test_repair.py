"""The local target's processes under the host's supervisord, behind the real nginx front: a deploy killed at each
step, then `retrain deploy --repair`, leaves one release serving and no orphan; `kill -9` of the front and a reboot
(supervisord and every process killed, supervisord started again from its config) are repaired without a deploy.
The releases are stand-ins that answer the two routes a deploy reads, as the service does (`/readyz` 200 once
ready, `/metadata` with the model's md5: serving/service.py); what state.json holds at each step is what
`Local.deploy` records before taking it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from retrain.io import http
from retrain.params import Params
from retrain.release import deploy, front, host
from tests.support import ended, free_port

STANDIN = """
import http.server, json, sys
body = json.dumps({"model": sys.argv[2]}).encode()
class Routes(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Routes).serve_forever()
"""


def _release(local: deploy.Local, name: str) -> deploy.Release:
    """A stand-in release, supervised as `_start` supervises one, ready."""
    port = free_port()
    (local.home / "standin.py").write_text(STANDIN)
    program = f"release-retrain_model-{name}-{port}"
    local._supervise(
        program, [sys.executable, str(local.home / "standin.py"), str(port), name * 32], local.home, "TERM"
    )
    release = deploy.Release(f"retrain_model:{name}", name * 32, name, port, program)
    _eventually(lambda: local._answers(release))
    return release


def _eventually(check: Callable[[], object], seconds: float = 60) -> float:
    """Poll `check` until it is true; the seconds it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def local(tmp_path: Path, params: Params) -> Iterator[deploy.Local]:
    """The target on a host set up by `retrain serve-host` (supervisord started); everything stopped afterwards."""
    home = tmp_path / "deploy"
    host.install(home)
    settings = params.deploy.model_copy(update={"port": free_port()})
    target = deploy.Local(home, settings, params.serve.max_body_bytes)
    target.supervisor = host.connect(home)
    try:
        yield target
    finally:
        target.stop()
        host.supervisor(home).shutdown()


def _killed_at(local: deploy.Local, traffic: deploy.Release, **steps: deploy.Release) -> None:
    """state.json and the front as a deploy killed at that point leaves them: the front sending to `traffic`."""
    with local._locked() as state:
        local._ensure_front(state)
        local._point(traffic)
        for step, release in steps.items():
            state[step] = {"program": release.program} if step == "starting" else asdict(release)


def _served(local: deploy.Local) -> str:
    """The model the front answers with ("" while nothing answers)."""
    status, body = http.request(f"http://127.0.0.1:{local.port}/metadata")
    return str(json.loads(body)["model"]) if status == 200 else ""


def _running(local: deploy.Local, *releases: deploy.Release) -> list[bool]:
    return [release.program in local.supervisor.programs() and local._answers(release) for release in releases]


def test_killed_after_start_the_new_release_is_stopped_and_the_old_one_serves(local: deploy.Local) -> None:
    old, new = _release(local, "a"), _release(local, "b")
    _killed_at(local, old, live=old, starting=new)
    assert local.repair()[0] == "stopped a release that was starting"
    assert _running(local, old, new) == [True, False] and _served(local) == old.md5
    assert local.status()["live"]["program"] == old.program and "starting" not in local.status()


def test_killed_during_the_canary_every_request_goes_back_to_the_live_release(local: deploy.Local) -> None:
    old, new = _release(local, "a"), _release(local, "b")
    _killed_at(local, old, live=old, starting=new, canary=new)
    front.point(local.front_dir, old.port, new.port, 0.5)  # the split a canary had set
    local._reload()
    assert {_served(local) for _ in range(20)} == {old.md5, new.md5}
    assert local.repair()[0] == "undid the canary of retrain_model:b"
    assert _running(local, old, new) == [True, False] and {_served(local) for _ in range(20)} == {old.md5}
    assert not {"starting", "canary"} & set(local.status())


def test_killed_after_the_switch_the_switch_is_finished_and_the_old_release_stopped(local: deploy.Local) -> None:
    old, new = _release(local, "a"), _release(local, "b")
    _killed_at(local, new, live=old, starting=new, switching=new)  # traffic already on the new release
    done = local.repair()
    assert done[:2] == ["finished the switch to retrain_model:b", "stopped retrain_model:a, which was draining"]
    assert _running(local, old, new) == [False, True] and _served(local) == new.md5
    state = local.status()
    assert state["live"]["program"] == new.program and state["previous"]["program"] == old.program
    assert not {"starting", "switching", "draining"} & set(state)


def test_killed_while_switching_to_a_release_that_died_the_switch_is_undone(local: deploy.Local) -> None:
    old, new = _release(local, "a"), _release(local, "b")
    _killed_at(local, new, live=old, starting=new, switching=new)
    local.supervisor.remove(new.program)  # the new release died with the deploy
    assert local.repair()[0] == "undid the switch to retrain_model:b, which does not answer"
    assert _running(local, old) == [True] and _served(local) == old.md5
    assert local.status()["live"]["program"] == old.program


def test_killed_during_the_drain_the_old_release_is_stopped_and_an_orphan_too(local: deploy.Local) -> None:
    old, new, orphan = _release(local, "a"), _release(local, "b"), _release(local, "c")
    _killed_at(local, new, live=new, previous=old, draining=old)
    done = local.repair()
    assert done[:2] == [
        "stopped retrain_model:a, which was draining",
        f"stopped {orphan.program}, which state.json does not name",
    ]
    assert _running(local, old, new, orphan) == [False, True, False] and _served(local) == new.md5
    assert [name for name in local.supervisor.programs() if name.startswith("release-")] == [new.program]


def _pid(local: deploy.Local, program: str) -> int:
    return int((local.supervisor.info(program) or {}).get("pid", 0))


def test_the_front_killed_with_sigkill_is_started_again_and_its_old_workersended(local: deploy.Local) -> None:
    live = _release(local, "a")
    _killed_at(local, live, live=live)
    master = _pid(local, "front")
    workers = local._accepting(master)
    os.kill(master, signal.SIGKILL)  # nginx's workers outlive their master, holding the port and the old config
    seconds = _eventually(lambda: (local.supervisor.info("front") or {}).get("pid") not in (0, master))
    seconds += _eventually(lambda: all(ended(worker) for worker in workers))  # until then they go on serving
    seconds += _eventually(lambda: _served(local) == live.md5)
    print(f"\nfront killed with SIGKILL: its old workers ended and a new front serving after {seconds:.2f} s")


def test_after_a_reboot_supervisord_started_from_its_config_serves_the_live_release(local: deploy.Local) -> None:
    old, live = _release(local, "a"), _release(local, "b")
    _killed_at(local, live, live=live, previous=old)
    local.repair()  # old is not live: stopped, and not started at boot
    groups = [_pid(local, name) for name in local.supervisor.programs()]
    supervisord = int((local.home / "run/supervisord.pid").read_text())
    os.kill(supervisord, signal.SIGKILL)  # the power goes: supervisord and every process it ran
    for group in groups:
        os.killpg(group, signal.SIGKILL)
    _eventually(lambda: ended(supervisord))
    started = time.monotonic()
    daemon = local.home / "host/bin/supervisord"
    subprocess.run([daemon, "--configuration", local.home / "supervisord.conf"], check=True)  # as the unit does
    _eventually(lambda: host.supervisor(local.home).alive() and _served(local) == live.md5)
    print(f"\nreboot: supervisord, started from its config, serves again after {time.monotonic() - started:.2f} s")
    assert sorted(host.supervisor(local.home).programs()) == sorted(["front", live.program])
    if shutil.which("systemd-analyze"):  # what starts supervisord at boot where systemd runs the machine
        unit = local.home / host.UNIT_NAME
        verified = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True, check=False)
        assert verified.returncode == 0 and str(unit) not in verified.stderr, verified.stderr
