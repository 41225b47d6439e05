"""The deploy checks that need no server: the Bento must hold the model dvc.lock names; a rollback needs a previous;
the remote targets call BentoCloud and the registry as those behave."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrain.io import files, vcs
from retrain.params import Params
from retrain.release import deploy, host
from tests.support import ROOT

MODEL = Path("models/model.skops")


@pytest.fixture
def bento(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Bento's src/ with a model file and the dvc.lock that names it (the store lookup pointed at it)."""
    src = tmp_path / "bento/src"
    (src / "models").mkdir(parents=True)
    (src / MODEL).write_bytes(b"a model")
    lock = (
        (ROOT / "dvc.lock")
        .read_text()
        .replace(vcs.lock_md5((ROOT / "dvc.lock").read_text(), MODEL) or "", files.md5(src / MODEL))
    )
    (src / "dvc.lock").write_text(lock)
    monkeypatch.setattr(deploy, "bento_path", lambda tag: tmp_path / "bento")
    return src


def test_a_bento_that_holds_the_locked_model_passes(bento: Path) -> None:
    deploy.verify_bento("retrain_model:abc", files.md5(bento / MODEL), MODEL)


def test_a_bento_whose_model_is_not_the_one_dvc_lock_names_is_refused(bento: Path) -> None:
    expected = files.md5(bento / MODEL)
    (bento / MODEL).write_bytes(b"another model")
    with pytest.raises(deploy.DeployError, match=f"md5 {files.md5(bento / MODEL)} .* dvc.lock names {expected}"):
        deploy.verify_bento("retrain_model:abc", expected, MODEL)


def test_a_bento_built_from_another_lock_is_refused(bento: Path) -> None:
    with pytest.raises(deploy.DeployError, match="refusing to deploy"):
        deploy.verify_bento("retrain_model:abc", "0" * 32, MODEL)


def test_a_rollback_without_a_previous_release_says_what_to_do(tmp_path: Path, params: Params) -> None:
    with pytest.raises(deploy.DeployError, match="records no previous release: deploy an older ref"):
        deploy.Local(tmp_path, params.deploy, params.serve.max_body_bytes).previous()


class BentoCloud:
    """BentoCloud as `bentoml.deployment.apply` sees it (bentoml/_internal/cloud/deployment.py, DeploymentAPI.apply:
    a name it does not hold is created, an existing one updated), and `wait_until_ready`'s 0 (ready) or 1."""

    def __init__(self, ready: int = 0) -> None:
        self.deployments: dict[str, str] = {}
        self.calls: list[str] = []
        self.ready = ready

    def apply(self, name: str, bento: str) -> BentoCloud:
        self.calls.append("update" if name in self.deployments else "create")
        self.deployments[name] = bento
        return self

    def wait_until_ready(self, timeout: int) -> int:
        return self.ready


def test_bentocloud_creates_the_deployment_once_then_updates_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import bentoml.deployment

    cloud = BentoCloud()
    monkeypatch.setattr(bentoml.deployment, "apply", cloud.apply)
    for tag in ("retrain_model:aaa", "retrain_model:bbb", "retrain_model:aaa"):  # merge, merge, redeploy the first
        deploy.remote("bentocloud", tag)
    assert cloud.calls == ["create", "update", "update"] and cloud.deployments == {"retrain-model": "retrain_model:aaa"}
    monkeypatch.setattr(bentoml.deployment, "apply", BentoCloud(ready=1).apply)
    with pytest.raises(deploy.DeployError, match="did not become ready"):
        deploy.remote("bentocloud", "retrain_model:ccc")


def test_the_container_target_logs_in_with_the_password_on_stdin_before_it_pushes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker` and `bentoml` are recording stand-ins: each call's arguments and stdin, in order, and exit 0. They fake
    nothing else; stdin is what `docker login --password-stdin` reads the password from (docs.docker.com, docker
    login: "--password-stdin  Take the password from stdin")."""
    record = tmp_path / "calls"
    for tool in ("docker", "bentoml"):
        stub = tmp_path / "bin" / tool
        stub.parent.mkdir(exist_ok=True)
        stub.write_text(f'#!/bin/sh\necho "{tool} $* <$(cat)>" >> {record}\n')
        stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("REGISTRY", "ghcr.io/acme")
    monkeypatch.setenv("DEPLOY_HOOK", "true")
    monkeypatch.setenv("REGISTRY_USERNAME", "octocat")
    monkeypatch.setenv("REGISTRY_PASSWORD", "s3cret")
    deploy.remote("container", "retrain_model:aaa")
    calls = record.read_text().splitlines()
    assert calls[0] == "docker login ghcr.io --username octocat --password-stdin <s3cret>"
    assert calls[1].startswith("bentoml containerize retrain_model:aaa --image-tag ghcr.io/acme/retrain_model:aaa")
    assert calls[2].startswith("docker push ghcr.io/acme/retrain_model:aaa")
    assert all("s3cret" not in call.split("<")[0] for call in calls)


def test_a_program_value_supervisor_would_misread_is_refused_by_name(tmp_path: Path) -> None:
    """supervisor's config: environment= is read with a non-POSIX shlex (no escapes), " ;" starts a comment."""
    (tmp_path / "programs").mkdir()
    for value in ('a"b', "a\\b", "x ;y"):
        with pytest.raises(host.HostError, match="RETRAIN_LOG_SHIP holds a newline, a quote"):
            host.program(tmp_path, "p", ["true"], tmp_path, tmp_path / "p.log", "TERM", RETRAIN_LOG_SHIP=value)
    host.program(tmp_path, "p", ["true"], tmp_path, tmp_path / "p.log", "TERM", RETRAIN_LOG_SHIP="s3://b/50%")
    assert 'RETRAIN_LOG_SHIP="s3://b/50%%"' in (tmp_path / "programs/p.conf").read_text()
    assert (tmp_path / "programs/p.conf").stat().st_mode & 0o077 == 0


def test_a_release_venv_is_keyed_by_the_locks_pins_not_by_how_bentoml_rewrote_it(tmp_path: Path) -> None:
    """`bentoml build` writes the lock into the Bento reformatted (comments unindented) and with its own pin added
    again: the venv built from the checkout's requirements.lock is the one its releases use; another pin is not."""
    text = (ROOT / "requirements.lock").read_text()
    pin = next(line for line in text.splitlines() if line.startswith("bentoml=="))
    as_bento = tmp_path / "bento.txt"
    as_bento.write_text("\n".join(line.strip() for line in text.splitlines()) + f"\n{pin}\n")
    other = tmp_path / "other.txt"
    other.write_text(text.replace(pin, "bentoml==0.0.1"))
    key = host.venv_path(tmp_path, ROOT / "requirements.lock")
    assert host.venv_path(tmp_path, as_bento) == key != host.venv_path(tmp_path, other)


def test_a_new_release_answers_its_golden_records_as_probes_before_it_takes_traffic(tmp_path: Path) -> None:
    """A fresh release's first requests pay for lazy imports and the request path's first use: a canary judged on a
    few dozen answers would be judged on those (CI: 5 of 37 answers over the p99 bound, 205 ms against 54 ms). So it
    answers the golden records, one and all of them, before the front sends it a request; marked as probes, they
    are not inference traffic."""
    import http.server
    import json
    import threading

    received: list[tuple[str, str, int]] = []

    class Release(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, self.headers.get("X-Retrain-Probe", ""), len(body["records"])))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Release)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        golden = [{"a": n} for n in range(20)]
        deploy.warm_up(f"http://127.0.0.1:{server.server_address[1]}", golden)
    finally:
        server.shutdown()
        server.server_close()
    assert len(received) == deploy.WARM_UP and {(path, probe) for path, probe, _ in received} == {
        ("/predict", "warm-up")
    }
    assert {size for *_, size in received} == {1, 20}
