"""`retrain health`: the regular health check of the `local` target, a program of the host's supervisord (each deploy
starts it on the live release's code and venv: deploy.Local._watch).

Every `deploy.health.seconds` (from the params.yaml of the Bento whose code it runs) it smoke-tests the front, each
request within `deploy.health.timeout`: ready, `/metadata` names the md5 state.json says is live, and the golden
records' answers equal those of the live Bento's model file (smoke.py); not while a deploy is under way (a canary
answers some of the requests). After `deploy.health.failures` failed checks in a row it puts the previous release
back (a deploy without canary), records the event in state.json (`events`), and POSTs it to $RETRAIN_WEBHOOK_URL at
once. It then judges the release it went back to; if that one fails too, it alerts and leaves it (no flapping
between two bad releases). The next run of `health.yml` on the serving runner (`retrain health --report`,
`make ci-health`) opens an issue and a revert PR of the commit that brought the failing release, so `main` catches up
with what serves.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from retrain.domain import load_domain
from retrain.io import files, http, modelfile
from retrain.params import Params
from retrain.release import deploy, smoke

log = logging.getLogger("retrain.health")


class Checker:
    """What the live release must answer: its model file's answers to its golden records, read from its Bento as
    data (where its own params.yaml puts them, not checked against this code's schema: after a rollback the live
    Bento may be older or newer than the code that checks it). How often, and the deploy settings of a rollback:
    `params`, of the code this runs. Loaded again when what is live changes."""

    def __init__(self, home: Path, live: dict[str, Any], params: Params) -> None:
        src = deploy.bento_path(live["bento"]) / "src"
        paths = yaml.safe_load((src / "params.yaml").read_text())["paths"]
        self.live, self.settings, self.domain = live, params.deploy.health, load_domain(params)
        self.local = deploy.Local(home, params.deploy, params.serve.max_body_bytes)
        self.model = modelfile.load(src / paths["model"])
        self.golden = files.read_json(src / paths["golden"])

    def check(self, port: int | None = None) -> list[str]:
        """The failed checks through the front (or directly on `port`)."""
        url = f"http://127.0.0.1:{port or self.local.port}"
        wait, timeout = min(self.settings.seconds, 10), self.settings.timeout
        return smoke.smoke(url, self.live["md5"], self.model, self.golden, self.domain, wait=wait, timeout=timeout)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _alert(text: str) -> None:
    log.error("health: %s", text)
    url = os.environ.get("RETRAIN_WEBHOOK_URL")
    if url:
        status, _ = http.request(url, {"text": text}, timeout=10)
        if status // 100 != 2:
            log.warning("health: the webhook answered %s", status or "nothing")


def roll_back(checker: Checker, failures: list[str], count: int) -> dict[str, Any]:
    """Put the previous release back, record the event in state.json, alert; the event. The event is recorded (under
    the deploy lock, from the state as it is then) before the rollback starts and completed after, so a deploy that
    takes over meanwhile cannot make it lost. Not when the live release still answers on its own port (the front is
    what fails: it is repaired instead), nor when it is one a health rollback restored (its previous failed too)."""
    local = checker.local
    with deploy.locked_state(local.home) as state:
        bad, previous = state["live"], state.get("previous")
        restored_before = {event.get("restored", {}).get("program") for event in state.get("events", [])}
        event: dict[str, Any] = {"time": _now(), "kind": "health", "failing": bad, "failures": failures}
        if bad["program"] == checker.live["program"] and not checker.check(bad["port"]):
            event["action"] = "the release passes on its own port: the front was repaired instead"
        elif not previous or bad["program"] in restored_before:
            event["action"] = "none: there is no healthy release to go back to"
        else:
            event |= {"action": f"rolling back to {previous['bento']}", "restored": previous, "reported": False}
        state.setdefault("events", []).append(event)
    try:
        if event["action"].startswith("the release passes"):
            local.repair()
        elif "restored" in event:
            back = event["restored"]
            release = deploy.Release(back["bento"], back["md5"], back["commit"])
            restored = local.deploy(release, canary=False, watch=False)  # this process is the watcher
            event |= {"action": f"rolled back to {restored.bento}", "restored": asdict(restored)}
    except Exception as error:  # whatever failed, someone must hear of it
        event["action"] = f"the rollback failed: {type(error).__name__}: {error}"
    with deploy.locked_state(local.home) as state:  # the recorded event, completed
        events = state.setdefault("events", [])
        same = [i for i, e in enumerate(events) if (e["time"], e["failing"]) == (event["time"], event["failing"])]
        if same:
            events[same[-1]] = event
        else:
            events.append(event)
    _alert(
        f"{bad['bento']} (model {bad['md5']}, commit {bad['commit'][:12]}) failed its health check "
        f"{count} times in a row: {'; '.join(failures)}. {event['action']}"
    )
    return event


def watch(params: Params, once: bool = False) -> None:
    """`retrain health`: check the live release until stopped (`once`: one check); `params`: this code's own (the
    Bento's it runs from)."""
    home, checker, failed = deploy.home(), None, 0
    while True:
        state = deploy.read_state(home)
        live = state.get("live")
        if live is None or any(state.get(step) for step in deploy.STEPS):
            failed = 0  # nothing live, or a deploy is under way (a canary answers some requests): not judged now
            if checker is not None and live is not None and not deploy.busy(home):
                log.warning("health: a deploy left %s unfinished (it was killed): repairing", deploy.STEPS)
                checker.local.repair()
        else:
            if checker is None or checker.live["program"] != live["program"]:
                checker, failed = Checker(home, live, params), 0  # a deploy (or this rollback) changed what is live
            failures = checker.check()
            failed = failed + 1 if failures else 0
            if failures:
                log.warning("health: %s failed (%d in a row): %s", live["bento"], failed, "; ".join(failures))
            if failed >= checker.settings.failures:
                roll_back(checker, failures, failed)
                failed = 0
        if once:
            return
        time.sleep(checker.settings.seconds if checker else 5)


def report(reports: Path, mark: bool = False) -> str:
    """`retrain health --report`: the oldest health rollback not yet reported, as reports/health.md (the issue's body);
    the commit of the release it took off (what the revert PR reverts), "" when there is none. `mark`: record that
    one as reported (once its issue is open)."""
    pending = [event for event in deploy.read_state(deploy.home()).get("events", []) if event.get("reported") is False]
    if mark:
        with deploy.locked_state(deploy.home()) as current:
            for event in current.get("events", []):
                if event.get("reported") is False:
                    event["reported"] = True  # the oldest: the one --report showed
                    break
        return ""
    if not pending:
        return ""
    event = pending[0]
    bad, restored = event["failing"], event["restored"]
    lines = [
        f"## The health check rolled back {bad['bento']}",
        "",
        f"At {event['time']} the live release `{bad['bento']}` (model `{bad['md5']}`, commit `{bad['commit']}`) "
        f"failed its health check repeatedly; `{restored['bento']}` (model `{restored['md5']}`, commit "
        f"`{restored['commit']}`) serves again. What failed:",
        "",
        *[f"- {failure}" for failure in event["failures"]],
        "",
        f"The revert PR of `{bad['commit'][:12]}` makes `main` name what serves; merging it deploys that same "
        "release again (and `retrain history` shows it). Close it instead if the fix goes forward.",
    ]
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "health.md").write_text("\n".join(lines) + "\n")
    return str(bad["commit"])
