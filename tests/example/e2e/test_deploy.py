"""deploy.yml under `act`, on the `local` target for real: a host set up by `retrain serve-host` (supervisord), nginx
on a front port, Bentos served by `bentoml serve` from their own venvs behind it. One such site serves the module's
tests in turn, as one serving machine sees merge after merge."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pytest

from retrain.io import files, vcs
from retrain.release import host, relaunch
from tests.e2e.stubs.github import GitHubStandIn
from tests.support import ROOT, VENV, act, act_env, copy_remote, free_port, git, post

pytestmark = pytest.mark.slow
PUSH = '{"ref": "refs/heads/main", "head_commit": {"message": "%s"}}'


@dataclass
class Site:
    repository: Path
    tmp_path: Path
    url: str
    deploy_dir: Path
    venv: Path = VENV  # the deploy job's venv
    secrets: dict[str, str] = field(default_factory=dict)  # the repository's secrets
    github: GitHubStandIn | None = None  # GitHub's API, for the repository whose origin is tmp_path/origin.git

    def run(self, *command: str) -> None:
        env = act_env(self.tmp_path, self.venv) | {"RETRAIN_DEPLOY_DIR": str(self.deploy_dir)}
        subprocess.run(command, cwd=self.repository, env=env, check=True, capture_output=True)

    def push(self, message: str | None = None) -> subprocess.CompletedProcess[str]:
        """Commit the changes (if a message is given), push main, and run deploy.yml for that push as GitHub would."""
        if message:
            git("commit", "-qam", message, cwd=self.repository)
        git("push", "-q", "origin", "main", cwd=self.repository)
        event = self.tmp_path / "push.json"
        event.write_text(PUSH % git("log", "-1", "--format=%s", cwd=self.repository).strip().replace('"', "'"))
        flags = ("-e", str(event), *self.flags())
        return act(self.repository, self.tmp_path, "push", "deploy.yml", *flags, venv=self.venv, github=self.api)

    def dispatch(self, ref: str) -> subprocess.CompletedProcess[str]:
        """Actions -> deploy -> Run workflow with `ref`: redeploy (pin) an older commit."""
        flags = ("--input", f"ref={ref}", *self.flags())
        return act(
            self.repository, self.tmp_path, "workflow_dispatch", "deploy.yml", *flags, venv=self.venv, github=self.api
        )

    @property
    def api(self) -> str:
        assert self.github
        return self.github.url

    def flags(self) -> list[str]:
        variables = {
            "DEPLOY_RUNNER": '["ubuntu-latest"]',  # act runs it on this host (-P ubuntu-latest=-self-hosted)
            "RETRAIN_DEPLOY_DIR": self.deploy_dir,
            "MLFLOW_TRACKING_URI": f"sqlite:///{self.tmp_path}/mlflow.db",
        }
        flags = [flag for name, value in variables.items() for flag in ("--var", f"{name}={value}")]
        return flags + [flag for name, value in self.secrets.items() for flag in ("-s", f"{name}={value}")]

    def served(self) -> tuple[str, list[float]]:
        """The md5 in /metadata and the probabilities for the committed golden records."""
        with urllib.request.urlopen(f"{self.url}/metadata", timeout=10) as response:
            md5 = json.loads(response.read())["model"]
        status, answer = predict(self.url, files.read_json(self.repository / "deploy/golden.json"))
        assert status == 200, answer
        return md5, answer["probabilities"]

    def champion(self) -> tuple[str, str]:
        """The registry version the alias `champion` points at, and its model md5."""
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{self.tmp_path}/mlflow.db")  # no global state
        version = client.get_model_version_by_alias("flight-delays", "champion")
        return str(version.version), version.tags["model_md5"]

    def live(self) -> dict[str, Any]:
        return json.loads((self.deploy_dir / "state.json").read_text())["live"]  # type: ignore[no-any-return]

    def pid(self, program: str) -> int:
        """The pid supervisord holds for the program (0: none)."""
        return int((host.supervisor(self.deploy_dir).info(program) or {}).get("pid", 0))


# every site's canary: judged on 30 of its requests or after 2 minutes (the default: 200 requests or 10 minutes)
CANARY = ("deploy.canary.share=0.1", "deploy.canary.requests=30", "deploy.canary.minutes=2")


def _family(pid: int) -> list[int]:
    """A process and all its descendants (BentoML's workers are not all in its process group)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            parents.setdefault(parent, []).append(int(entry.name))
    family, index = [pid], 0
    while index < len(family):
        family += parents.get(family[index], [])
        index += 1
    return family


def _analysed(output: str) -> str:
    """How long the canary took to be judged, as the deploy logs it."""
    found = re.search(r"canary analysed in ([0-9.]+ s)", output)
    return f"judged {found[1]} after the split" if found else "no analysis logged"


def _switched(output: str) -> str:
    """How long the switch took, from the reload to the front answering with the new model, as the deploy logs it."""
    found = re.search(r"deploy: switched in ([0-9]+ ms)", output)
    return f"switched in {found[1]}" if found else "no switch logged"


def _marked(mark: str) -> list[int]:
    """The processes whose environment holds `mark`."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if mark.encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _answers(url: str) -> str | None:
    """The model md5 the front answers with, None while it does not."""
    try:
        with urllib.request.urlopen(f"{url}/metadata", timeout=5) as response:
            return str(json.loads(response.read())["model"])
    except (OSError, ValueError, KeyError):
        return None


def predict(url: str, records: list[dict[str, Any]]) -> tuple[int, Any]:
    return post(f"{url}/predict", json.dumps({"records": records}).encode())


@dataclass
class Webhook:
    """An alert receiver: the JSON bodies POSTed to it."""

    url: str
    received: list[Any]


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    received: list[Any] = []

    class Receive(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Webhook(f"http://127.0.0.1:{server.server_address[1]}/alert", received)
    server.shutdown()


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def _job_venv(venv: Path) -> Path:
    """A venv of the deploy job's own, which a test may delete as the next job's `actions/checkout` (clean: true)
    would: this one's packages hard-linked (compiled bytecode included: these machines set PYTHONDONTWRITEBYTECODE,
    so without it every process of the job would compile its imports again) and its scripts pointed at the new
    interpreter; 2 s, where uv takes 20."""
    subprocess.run([str(VENV / "bin/python"), "-m", "venv", "--without-pip", str(venv)], check=True)
    packages = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
    shutil.copytree(VENV / packages, venv / packages, symlinks=True, copy_function=_link, dirs_exist_ok=True)
    for script in (VENV / "bin").iterdir():
        target = venv / "bin" / script.name
        if target.exists() or script.is_symlink() or not script.is_file():
            continue  # the interpreter's links, made by venv
        content = script.read_bytes()
        if content.startswith(b"#!"):  # an entry point: its first line names this venv's interpreter
            target.write_bytes(content.replace(bytes(VENV), bytes(venv)))
            target.chmod(script.stat().st_mode)
        else:
            _link(str(script), str(target))  # a binary (uv, ruff)
    for marker in (".runtime", ".dev"):  # what `make setup-dev` leaves: the Makefile uses the venv as it is
        (venv / marker).touch()
    return venv


@pytest.fixture(scope="module")
def site(_remote_template: Path, tmp_path_factory: pytest.TempPathFactory, webhook: Webhook) -> Iterator[Site]:
    """One site for this module's tests, as one serving machine sees merge after merge: each test starts from what
    the one before left live and on main. Its deploy job runs from a venv of its own; alerts go to `webhook`."""
    tmp_path, port = tmp_path_factory.mktemp("site"), free_port()
    repository, venv = copy_remote(_remote_template, tmp_path), _job_venv(tmp_path / "job-venv")
    secrets = {"RETRAIN_WEBHOOK_URL": webhook.url}
    site = Site(repository, tmp_path, f"http://127.0.0.1:{port}", tmp_path / "deploy", venv, secrets)
    site.github = GitHubStandIn(tmp_path / "origin.git").start()
    # the host set up as the README says, for the user the jobs run as (here: this one, which act runs them as)
    site.run("retrain", "serve-host", "--user", pwd.getpwuid(os.geteuid()).pw_name)
    host.release_venv(site.deploy_dir, ROOT / "requirements.lock")  # as a host that served this lock before
    site.run("retrain", "set-params", f"deploy.port={port}", *CANARY)
    try:
        first = site.push("deploy: a free port and a quick canary for the test")  # the champion goes live
        assert first.returncode == 0, first.stdout[-4000:]
        assert "deploy: built" not in first.stdout  # the venv of the checkout's lock is the one of its Bento's
        yield site
    finally:  # the host's supervisord and everything it runs stopped
        with contextlib.suppress(subprocess.CalledProcessError):
            site.run("retrain", "deploy", "--stop")
        host.supervisor(site.deploy_dir).shutdown()
        site.github.stop()
    if site.github.violations:  # as the `github` fixture: every call the deploy jobs made is one GitHub allows
        pytest.fail("GitHub's OpenAPI description does not allow:\n" + "\n".join(site.github.violations), pytrace=False)


@dataclass
class Load:
    """Clients sending golden records to the front until stopped; what they got back."""

    url: str
    records: list[dict[str, Any]]
    clients: int = 8
    answers: Counter[tuple[int, str]] = field(default_factory=Counter)
    stopped: threading.Event = field(default_factory=threading.Event)

    def client(self) -> None:
        while not self.stopped.is_set():
            try:
                status, answer = predict(self.url, self.records)
                self.answers[status, answer["model"] if status == 200 else str(answer)[:200]] += 1
            except Exception as error:  # every failure counts, whatever its kind
                self.answers[0, repr(error)[:200]] += 1

    def __enter__(self) -> Load:
        self.threads = [threading.Thread(target=self.client) for _ in range(self.clients)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()


def test_a_failing_canary_is_routed_back_and_a_failing_smoke_test_puts_the_previous_release_back(site: Site) -> None:
    before = site.live()
    champion = site.served()
    golden = files.read_json(site.repository / "deploy/golden.json")
    site.run("retrain", "set-params", "serve.max_records=2")  # the canary refuses the clients' 5 records
    with Load(site.url, golden[:5]) as load:
        canary = site.push("serve: at most 2 records per request")
    assert canary.returncode != 0 and "Failure - Main Deploy" in canary.stdout, canary.stdout[-4000:]
    assert "the canary is worse than the champion: not 2xx" in canary.stdout
    print(f"\ncanary routed back: {_analysed(canary.stdout)}")
    assert site.served() == champion and site.live() == before  # the champion never stopped serving
    served = sum(load.answers.values())
    refused = sum(count for (status, _), count in load.answers.items() if status != 200)
    assert 0 < refused <= 0.1 * served + 8, load.answers  # at most its share, and the requests then in flight
    assert site.github
    (issue,) = site.github.issues_labelled("deploy-failed")
    assert "### Canary (10% of requests)" in issue["body"] and "| not 2xx | 0.00% |" in issue["body"], issue["body"]

    site.run("retrain", "set-params", "serve.max_records=5", "deploy.canary.share=0")  # golden set: 20 records
    result = site.push("serve: at most 5 records per request")
    assert result.returncode != 0
    assert "Failure - Main Smoke test" in result.stdout and "Success - Main Roll back" in result.stdout, result.stdout
    assert site.served() == champion and site.live()["bento"] == before["bento"]
    assert site.live()["program"] != before["program"]  # redeployed, not left running by luck
    (again,) = site.github.issues_labelled("deploy-failed")  # the open one, commented on: one issue per kind
    (comment,) = site.github.comments_on(again["number"])
    assert "failed" in comment and "golden records" in comment
    assert site.champion()[1] == champion[0]
    git("revert", "--no-edit", "HEAD~2..HEAD", cwd=site.repository)  # main names the live release again, as before


def test_a_merge_deploys_under_load_a_revert_brings_the_old_model_back_and_a_dispatch_pins_a_ref(
    site: Site, webhook: Webhook
) -> None:
    champion_md5, champion_answers = site.served()
    champion_version, alias_md5 = site.champion()
    before, front = json.loads((site.deploy_dir / "state.json").read_text()), site.pid("front")
    assert alias_md5 == champion_md5 == vcs.lock_md5((site.repository / "dvc.lock").read_text(), "models/model.skops")

    site.run("retrain", "set-params", "train.seed=7")  # the challenger a retrain PR brought
    site.run("retrain", "set-params", "deploy.health.seconds=1", "deploy.health.timeout=2")
    site.run("dvc", "pull", "--quiet")
    site.run("dvc", "repro", "--quiet")
    site.run("dvc", "push", "--quiet")
    golden = files.read_json(site.repository / "deploy/golden.json")
    with Load(site.url, golden[:5]) as load:
        merge = site.push("Merge pull request #1 from org/retrain/1")
    assert merge.returncode == 0, merge.stdout[-4000:]
    assert "### Canary (10% of requests): the canary is within every bound" in merge.stdout, merge.stdout[-4000:]
    assert "Probabilities not compared (no inference log on this machine" in merge.stdout
    print(f"\ncanary promoted: {_analysed(merge.stdout)}, {_switched(merge.stdout)}")
    new_md5, new_answers = site.served()
    assert new_md5 != champion_md5 and new_answers != champion_answers
    assert site.champion() == (str(int(champion_version) + 1), new_md5)
    failed = {answer: count for answer, count in load.answers.items() if answer[0] != 200}
    assert not failed, failed
    assert {model for _, model in load.answers} == {champion_md5, new_md5}  # the switch happened under load
    after = json.loads((site.deploy_dir / "state.json").read_text())
    assert site.pid("front") == front and after["previous"]["program"] == before["live"]["program"]
    assert site.pid(before["live"]["program"]) == 0  # the old release was stopped

    git("revert", "--no-edit", "HEAD", cwd=site.repository)
    revert = site.push()
    assert revert.returncode == 0, revert.stdout[-4000:]
    assert site.served() == (champion_md5, champion_answers)  # byte for byte: same md5, identical predictions
    assert site.champion() == (champion_version, champion_md5)
    assert f"Deployed model `{champion_md5}`" in revert.stdout
    assert "Canary" not in revert.stdout  # the model that served before: no canary, all at once
    print(f"\nrevert: {_switched(revert.stdout)}")

    merge_commit = git("rev-parse", "HEAD~1", cwd=site.repository).strip()
    pin = site.dispatch(merge_commit)  # pin the newer model again without a commit (it served before: no canary)
    assert pin.returncode == 0 and "Canary" not in pin.stdout, pin.stdout[-4000:]
    assert site.served() == (new_md5, new_answers)
    git("checkout", "-q", "-b", "unmerged", cwd=site.repository)
    git("commit", "-q", "--allow-empty", "-m", "never reviewed", cwd=site.repository)
    from_branch = site.dispatch("unmerged")  # "Run workflow" from the branch: its deploy job is for main alone
    assert from_branch.returncode == 0 and "make deploy" not in from_branch.stdout, from_branch.stdout[-3000:]
    git("checkout", "-q", "main", cwd=site.repository)
    refused = site.dispatch("unmerged")  # from main, asking for the branch: refused by the ref check
    assert refused.returncode != 0 and "unmerged is not on main" in refused.stdout
    assert site.served()[0] == new_md5  # what was live stays live

    wedged = site.live()  # the health check: the live release hangs, and the previous one comes back by itself
    family, started = _family(site.pid(wedged["program"])), time.monotonic()
    for pid in family:
        os.kill(pid, signal.SIGSTOP)
    try:
        while _answers(site.url) != champion_md5:
            assert time.monotonic() - started < 180, "the health check did not put the previous release back"
            time.sleep(0.5)
    finally:
        for pid in family:  # let its stop finish (supervisord's SIGTERM waits while they are stopped)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    print(f"\nhealth: a hung release replaced by the previous one after {time.monotonic() - started:.1f} s")
    while not webhook.received:  # the event is recorded, then sent, once the rollback's deploy is done
        assert time.monotonic() - started < 240, "no alert reached the webhook"
        time.sleep(0.5)
    (event,) = json.loads((site.deploy_dir / "state.json").read_text())["events"]
    assert event["failing"]["program"] == wedged["program"] and event["restored"]["md5"] == champion_md5
    assert event["reported"] is False  # for the next run of health.yml
    (alert,) = webhook.received
    assert wedged["bento"] in alert["text"] and "failed its health check 3 times in a row" in alert["text"]
    assert site.served() == (champion_md5, champion_answers) and site.live()["md5"] == champion_md5

    shutil.rmtree(site.venv)  # the next job's checkout (clean: true) deletes the deploy job's venv
    time.sleep(1)
    assert site.served() == (champion_md5, champion_answers)
    live = site.live()["program"]
    run = (site.deploy_dir / f"run/{live}.pid").read_text().split()[1]  # relaunch.py's record of this run
    killed, started = site.pid(live), time.monotonic()
    os.kill(killed, signal.SIGKILL)  # supervisord starts it again; its worker, left serving, is ended first
    deadline = started + 120
    mark = f"{relaunch.MARK}={run}"
    while not (site.pid(live) not in (0, killed) and not _marked(mark) and _answers(site.url) == champion_md5):
        assert time.monotonic() < deadline, "the release killed with SIGKILL did not come back within 120 s"
        time.sleep(0.1)
    print(f"\nrelease killed with SIGKILL, job venv deleted: answering again after {time.monotonic() - started:.1f} s")
    assert site.served() == (champion_md5, champion_answers)
    assert not _marked(mark)  # its worker, in a session of its own, outlived it only until the new run started
