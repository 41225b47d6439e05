"""A deploy killed at each step, then `retrain deploy --repair`: one release serving, behind the real nginx front,
and no orphan process. The releases are stand-ins that answer the two routes a deploy reads, as the service does
(`/readyz` 200 once ready, `/metadata` with the model's md5: serving/service.py); what state.json holds at each step
is what `Local.deploy` records before taking it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from retrain.params import Params
from retrain.release import deploy
from tests.support import free_port

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


def _release(name: str, tmp_path: Path) -> deploy.Release:
    port = free_port()
    (tmp_path / "standin.py").write_text(STANDIN)
    command = [sys.executable, str(tmp_path / "standin.py"), str(port), name * 32]
    process = subprocess.Popen(command, start_new_session=True)  # as `_detached` starts releases
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
            break
        except OSError:
            subprocess.run(["sleep", "0.05"], check=True)
    return deploy.Release(f"flight_delay:{name}", name * 32, name, port, process.pid, "", deploy.identity(process.pid))


@pytest.fixture
def local(tmp_path: Path, params: Params) -> Iterator[deploy.Local]:
    settings = params.deploy.model_copy(update={"port": free_port()})
    target = deploy.Local(tmp_path / "deploy", settings, params.serve.max_body_bytes)
    try:
        yield target
    finally:
        target.stop()


def _killed_at(local: deploy.Local, traffic: deploy.Release, **steps: deploy.Release) -> None:
    """state.json and the front as a deploy killed at that point leaves them: the front sending to `traffic`."""
    with local._locked() as state:
        local._ensure_front(state)
        local._point(traffic)
        for step, release in steps.items():
            state[step] = {"pid": release.pid, "identity": release.identity} if step == "starting" else asdict(release)


def _served(local: deploy.Local) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{local.port}/metadata", timeout=5) as answer:
        return str(json.loads(answer.read())["model"])


def _running(*releases: deploy.Release) -> list[bool]:
    return [deploy._ours(release.pid, release.identity) for release in releases]


def test_killed_after_start_the_new_release_is_stopped_and_the_old_one_serves(
    local: deploy.Local, tmp_path: Path
) -> None:
    old, new = _release("a", tmp_path), _release("b", tmp_path)
    _killed_at(local, old, live=old, starting=new)
    assert local.repair()[0] == "stopped a release that was starting"
    assert _running(old, new) == [True, False] and _served(local) == old.md5
    assert local.status()["live"]["pid"] == old.pid and "starting" not in local.status()


def test_killed_after_the_switch_the_switch_is_finished_and_the_old_release_stopped(
    local: deploy.Local, tmp_path: Path
) -> None:
    old, new = _release("a", tmp_path), _release("b", tmp_path)
    _killed_at(local, new, live=old, starting=new, switching=new)  # traffic already on the new release
    done = local.repair()
    assert done[:2] == ["finished the switch to flight_delay:b", "stopped flight_delay:a, which was draining"]
    assert _running(old, new) == [False, True] and _served(local) == new.md5
    state = local.status()
    assert state["live"]["pid"] == new.pid and state["previous"]["pid"] == old.pid
    assert not {"starting", "switching", "draining"} & set(state)


def test_killed_while_switching_to_a_release_that_died_the_switch_is_undone(
    local: deploy.Local, tmp_path: Path
) -> None:
    old, new = _release("a", tmp_path), _release("b", tmp_path)
    _killed_at(local, new, live=old, starting=new, switching=new)
    deploy._stop(new.pid, new.identity)  # the new release died with the deploy
    assert local.repair()[0] == "undid the switch to flight_delay:b, which does not answer"
    assert _running(old) == [True] and _served(local) == old.md5 and local.status()["live"]["pid"] == old.pid


def test_killed_during_the_drain_the_old_release_is_stopped(local: deploy.Local, tmp_path: Path) -> None:
    old, new = _release("a", tmp_path), _release("b", tmp_path)
    _killed_at(local, new, live=new, previous=old, draining=old)
    assert local.repair()[0] == "stopped flight_delay:a, which was draining"
    assert _running(old, new) == [False, True] and _served(local) == new.md5
