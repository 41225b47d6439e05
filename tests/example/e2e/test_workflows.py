"""The real workflow files, run by `act` on this host, against a bare `origin` and a recording `cml`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from retrain.domain import Domain
from retrain.domain.nycflights import data as nycflights
from retrain.domain.nycflights import features
from retrain.io import files
from retrain.params import Params
from retrain.pipeline import featurize, train
from tests.e2e.stubs.github import GitHubStandIn
from tests.example.support import log_lines
from tests.support import act, act_env, git

pytestmark = pytest.mark.slow


def _add_july(repository: Path, tmp_path: Path) -> None:
    for command in (["retrain", "new-batch", "2013-07"], ["dvc", "push", "--quiet"]):  # as a data producer would
        subprocess.run(command, cwd=repository, env=act_env(tmp_path), check=True, capture_output=True)
    git("add", "data/landing", cwd=repository)
    git("commit", "-qm", "data: 2013-07", cwd=repository)
    git("push", "-q", "origin", "main", cwd=repository)  # the push that starts retrain.yml


def test_a_dispatch_with_nothing_new_opens_no_pr_and_ends_green(with_remote: Path, tmp_path: Path) -> None:
    """Same data, same params, with the DVC remote that holds main's outputs (as in real use): the same model bytes
    and the same dvc.lock, so there is nothing to propose. (That a retrain from scratch on a fresh runner gives the
    same bytes is the day-one test's: `make retrain` in the template copy leaves `git status` clean.)"""
    repository = with_remote
    result = act(repository, tmp_path, "workflow_dispatch", "retrain.yml", "--input", "reason=weekly")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "nothing to retrain on: same data, same params, same model" in result.stdout
    branches = git("ls-remote", "--heads", str(tmp_path / "origin.git"), cwd=repository)
    assert "refs/heads/retrain/" not in branches
    calls = [call.read_text().split("\n")[:2] for call in sorted((tmp_path / "cml").glob("*.args"))]
    assert ["comment", "update"] not in calls  # `pr create` printed "undefined": there is no PR to comment on


def test_two_retrains_leave_one_open_retrain_pr_among_many_whose_checks_come_without_an_app(
    with_remote: Path, tmp_path: Path, github: GitHubStandIn
) -> None:
    """A data push opens the retrain PR with the report (the new batch, its drift), among a contributor's PR from a
    fork's `main` and 31 newer PRs (CML's `pr create` took the fork's PR for ours: the first of one page whose head
    ends with `main`). A maintainer then changes a workflow file on main, so the next retrain's force-push is refused
    to the workflow token (origin's hook, as GitHub): the dispatch that follows pushes the branch anew on main, opens
    the one retrain PR with the second report, and closes the first with a link. Each head gets the statuses `gate`
    and `test` (pending) and a ci.yml dispatched on it; ci.yml's dispatched run, under act on that head, posts `test`.
    """
    repository, bare = with_remote, str(tmp_path / "origin.git")
    _add_july(repository, tmp_path)
    main_lock = git("--git-dir", bare, "show", "main:dvc.lock", cwd=repository)
    event = tmp_path / "push.json"
    event.write_text('{"ref": "refs/heads/main", "head_commit": {"message": "data: 2013-07"}}')
    fork = github.open_pull("main", fork="contributor", title="Fix a typo")
    result = act(
        repository, tmp_path, "push", "retrain.yml", "-e", str(event), "--env", "GITHUB_RUN_ID=101", github=github.url
    )
    assert result.returncode == 0, result.stdout[-4000:]
    heads = [git("--git-dir", bare, "rev-parse", "retrain/main", cwd=repository).strip()]
    assert git("--git-dir", bare, "rev-parse", "retrain/main~1", cwd=repository) == git(
        "rev-parse", "HEAD", cwd=repository
    )
    assert "models/model.skops" in git("--git-dir", bare, "show", "retrain/main:dvc.lock", cwd=repository)
    # GitHub runs no workflow for a head commit that says [skip ci]: the message is the reason, nothing appended
    assert git("--git-dir", bare, "log", "-1", "--format=%s", "retrain/main", cwd=repository).strip() == "Retrain: push"
    (first,) = [p["number"] for p in github.open_pulls() if p["head"]["label"] == "acme:retrain/main"]
    (report,) = github.comments_on(first)
    assert report.startswith("## ✅ Promote") and "data push" in report
    assert "| metric | champion | challenger | delta | 95% interval | p-value |" in report
    assert "Batches added since the champion on `main` was trained: 2013-07.parquet" in report
    assert "<summary>Drift</summary>" in report and "![drift](drift.png)" in report

    others = [github.open_pull(f"feature-{n}", title=f"Feature {n}") for n in range(31)]  # newer than the retrain PR
    ci = repository / ".github/workflows/ci.yml"
    ci.write_text(ci.read_text().replace("timeout-minutes: 30", "timeout-minutes: 40"))
    git("commit", "-qam", "ci: more time", cwd=repository)
    git("push", "-q", "origin", "main", cwd=repository)  # a maintainer's push: the hook lets people change workflows
    overrides = ["--input", "params=train.seed=8", "--env", "GITHUB_RUN_ID=102", "--var", "REPORT_IMAGES=commit"]
    result = act(
        repository,
        tmp_path,
        "workflow_dispatch",
        "retrain.yml",
        "--input",
        "reason=seed 8",
        *overrides,
        github=github.url,
    )
    assert "Success - Main Open or update the PR" in result.stdout, result.stdout[-3000:]
    assert "refusing to allow a GitHub App to create or update workflow" in result.stdout
    heads.append(git("--git-dir", bare, "rev-parse", "retrain/main", cwd=repository).strip())
    assert git("--git-dir", bare, "rev-parse", "retrain/main~1", cwd=repository) == git(
        "rev-parse", "HEAD", cwd=repository
    )
    assert (
        git("--git-dir", bare, "log", "-1", "--format=%s", "retrain/main", cwd=repository).strip() == "Retrain: seed 8"
    )
    assert (
        yaml.safe_load(git("--git-dir", bare, "show", "retrain/main:params.yaml", cwd=repository))["train"]["seed"] == 8
    )
    (second,) = [p["number"] for p in github.open_pulls() if p["head"]["label"] == "acme:retrain/main"]
    assert second != first and github.pulls[first]["state"] == "closed"
    assert github.comments_on(first)[-1].startswith(f"Superseded by #{second}: `main` changed a workflow file")
    (report,) = github.comments_on(second)
    assert "manual dispatch" in report and ": seed 8" in report
    # REPORT_IMAGES=commit: the PNGs are on the branch, linked by absolute blob URL of that commit, not uploaded
    assert "reports/roc.png" in git("--git-dir", bare, "ls-tree", "-r", "--name-only", heads[1], cwd=repository)
    assert f"/blob/{heads[1]}/reports/roc.png?raw=true)" in report
    arguments = [call.read_text().splitlines() for call in sorted((tmp_path / "cml").glob("*.args"))]
    assert [args[-2] for args in arguments if args[:2] == ["comment", "update"]] == ["--publish", "--no-publish"]
    assert {p["number"] for p in github.open_pulls()} == {fork, *others, second}
    assert {c["issue"] for c in github.comments} == {first, second}  # nothing on anyone else's PR
    for head in heads:
        statuses = {(s["context"], s["state"]) for s in github.statuses if s["sha"] == head}
        assert statuses == {("gate", "success"), ("test", "pending")}, statuses
    assert [(d["workflow"], d["ref"]) for d in github.dispatches] == [("ci.yml", "retrain/main")] * 2
    assert git("--git-dir", bare, "show", "main:dvc.lock", cwd=repository) == main_lock

    # GitHub starts ci.yml on retrain/main: its dispatched run, on that head (.ci/run stands in for the suite)
    git("fetch", "-q", "origin", "retrain/main", cwd=repository)
    git("checkout", "-q", "--detach", "FETCH_HEAD", cwd=repository)
    (repository / ".ci/run").write_text("#!/usr/bin/env bash\necho 'the suite passed'\n")
    result = act(repository, tmp_path, "workflow_dispatch", "ci.yml", "--env", f"SHA_REF={heads[1]}", github=github.url)
    assert result.returncode == 0, result.stdout[-3000:]
    assert ("test", "success") in {(s["context"], s["state"]) for s in github.statuses if s["sha"] == heads[1]}


def test_a_degrading_override_still_opens_the_pr_and_fails_the_gate(
    with_remote: Path, tmp_path: Path, github: GitHubStandIn
) -> None:
    repository = with_remote
    override = "params=train.hyperparameters.hist_gradient_boosting.max_iter=3"
    result = act(
        repository,
        tmp_path,
        "workflow_dispatch",
        "retrain.yml",
        "--input",
        "reason=try 3 trees",
        "--input",
        override,
        github=github.url,
    )
    assert result.returncode != 0
    assert "Failure - Main Gate" in result.stdout, result.stdout[-3000:]
    head = git("--git-dir", str(tmp_path / "origin.git"), "rev-parse", "retrain/main", cwd=repository).strip()
    (gate,) = [status for status in github.statuses if status["context"] == "gate"]
    assert (gate["sha"], gate["state"]) == (head, "failure")  # the required status `gate` blocks the merge
    (pull,) = github.open_pulls()
    (text,) = github.comments_on(pull["number"])
    assert text.startswith("## ❌ Block: roc_auc") and "try 3 trees" in text
    assert "`train.hyperparameters.hist_gradient_boosting.max_iter` | `300` | `3`" in text


def test_monitor_over_a_drifted_log_dispatches_a_retrain_and_raises_the_alert(
    repository: Path, tmp_path: Path, params: Params, github: GitHubStandIn, domain: Domain
) -> None:
    weather = nycflights.weather()
    spring = featurize.label(features.join_weather(nycflights.flights(2013, 4), weather), domain)[0]
    settings = params.train.model_copy(update={"hyperparameters": {"hist_gradient_boosting": {"max_iter": 20}}})
    model = train.train(spring, settings, domain)
    august = features.join_weather(nycflights.flights(2013, 8), weather)
    log = tmp_path / "inference"
    log.mkdir()
    (log / "predictions-today.jsonl").write_text("\n".join(log_lines(model, august, when=pd.Timestamp.now(tz="UTC"))))
    flags = ["--var", f"RETRAIN_INFERENCE_LOG={log}"]
    result = act(repository, tmp_path, "workflow_dispatch", "monitor.yml", *flags, github=github.url)
    assert result.returncode == 0, result.stdout[-4000:]
    (dispatch,) = github.dispatches
    assert (dispatch["workflow"], dispatch["ref"]) == ("retrain.yml", "main")
    assert dispatch["inputs"]["reason"].startswith("monitoring: data drift in recent traffic")
    (issue,) = github.issues_labelled("retrain-alert")
    assert issue["title"].startswith("Retraining triggered: data drift in recent traffic")
    assert issue["body"].startswith("## Retraining triggered: data drift in recent traffic")


def test_monitor_skips_with_a_notice_when_unconfigured_and_fails_loudly_when_blind(
    repository: Path, tmp_path: Path, github: GitHubStandIn
) -> None:
    """A hosted runner reading a folder of the serving machine finds nothing: that is the `monitoring-blind` issue
    and a red run, never a green "not enough volume"."""
    result = act(repository, tmp_path, "workflow_dispatch", "monitor.yml")
    assert result.returncode == 0 and "monitoring skipped: no inference log is configured" in result.stdout
    assert "make ci-monitor" not in result.stdout

    missing = tmp_path / "serving-machine/logs"
    flags = ["--var", f"RETRAIN_INFERENCE_LOG={missing}"]
    result = act(repository, tmp_path, "workflow_dispatch", "monitor.yml", *flags, github=github.url)
    assert result.returncode != 0 and f"monitoring is blind: {missing}: no such folder" in result.stdout
    assert not github.dispatches  # no retrain dispatched
    (issue,) = github.issues_labelled("monitoring-blind")
    assert issue["title"].startswith("Monitoring is blind")


def test_the_pr_gate_passes_at_once_when_the_model_is_untouched_and_names_a_stale_lock(
    repository: Path, tmp_path: Path
) -> None:
    event = tmp_path / "pull_request.json"
    event.write_text(
        json.dumps(
            {"pull_request": {"number": 7, "head": {"ref": "docs", "repo": {"fork": False}}, "base": {"ref": "main"}}}
        )
    )
    git("checkout", "-q", "-b", "docs", cwd=repository)
    (repository / "README.md").write_text((repository / "README.md").read_text() + "\nA note.\n")
    git("commit", "-qam", "docs: a note", cwd=repository)
    result = act(repository, tmp_path, "pull_request", "pr.yml", "-e", str(event))
    assert result.returncode == 0, result.stdout[-4000:]
    assert "nothing that affects the model changed" in result.stdout
    assert not list((tmp_path / "cml").glob("*.args")) and "Running stage" not in result.stdout  # no retrain

    drift = repository / "src/retrain/pipeline/drift.py"
    drift.write_text(drift.read_text() + "\n# a change that the committed dvc.lock does not know\n")
    git("commit", "-qam", "drift: a change without the lock", cwd=repository)
    result = act(repository, tmp_path, "pull_request", "pr.yml", "-e", str(event))
    assert result.returncode != 0
    assert "lock-check: drift: src/retrain/pipeline modified" in result.stdout, result.stdout[-4000:]


def test_a_merge_on_a_fork_with_no_deploy_target_skips_deploy_with_a_notice(repository: Path, tmp_path: Path) -> None:
    event = tmp_path / "push.json"
    event.write_text('{"ref": "refs/heads/main", "head_commit": {"message": "Merge pull request #3"}}')
    result = act(repository, tmp_path, "push", "deploy.yml", "-e", str(event))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "deploy skipped: no deploy target is configured" in result.stdout
    assert "make deploy" not in result.stdout and "deploy-failed" not in result.stdout


def _health_rollback(repository: Path, tmp_path: Path) -> tuple[str, Path, list[str]]:
    """A merge on main whose release the health check took off: state.json holds the event as health.py records it
    (the failing release, the restored one, reported: false). The merge commit, the deploy folder, act's flags."""
    params = repository / "params.yaml"
    params.write_text(params.read_text().replace("max_records: 2000", "max_records: 1999"))
    git("commit", "-qam", "Merge pull request #7 from org/serve", cwd=repository)
    git("push", "-q", "origin", "main", cwd=repository)
    bad, good = git("rev-parse", "HEAD", cwd=repository).strip(), git("rev-parse", "HEAD~1", cwd=repository).strip()
    release = {"md5": "b" * 32, "port": 1, "program": "release-flight_delay-x-1", "started_at": ""}
    event = {
        "time": "2026-12-02T06:00:00+00:00",
        "kind": "health",
        "failing": release | {"bento": f"flight_delay:{bad[:12]}", "commit": bad},
        "failures": ["http://127.0.0.1:3000/readyz did not answer 200 within 10 s"],
        "action": f"rolled back to flight_delay:{good[:12]}",
        "restored": release | {"bento": f"flight_delay:{good[:12]}", "commit": good, "md5": "a" * 32},
        "reported": False,
    }
    deploy_dir = tmp_path / "deploy"
    deploy_dir.mkdir()
    (deploy_dir / "state.json").write_text(json.dumps({"events": [event]}))
    return bad, deploy_dir, ["--var", 'DEPLOY_RUNNER=["ubuntu-latest"]', "--var", f"RETRAIN_DEPLOY_DIR={deploy_dir}"]


def test_a_health_rollback_whose_revert_conflicts_with_main_gets_the_issue_and_is_reported(
    repository: Path, tmp_path: Path, github: GitHubStandIn
) -> None:
    """main moved on over the same lines: no revert PR, but the issue says so, and the event does not block the
    ones after it."""
    bad, deploy_dir, flags = _health_rollback(repository, tmp_path)
    params = repository / "params.yaml"
    params.write_text(params.read_text().replace("max_records: 1999", "max_records: 1998"))
    git("commit", "-qam", "serve: 1998 records", cwd=repository)
    git("push", "-q", "origin", "main", cwd=repository)
    result = act(repository, tmp_path, "workflow_dispatch", "health.yml", *flags, github=github.url)
    assert result.returncode == 0, result.stdout[-4000:]
    (issue,) = github.issues_labelled("deploy-rolled-back")
    assert f"Reverting `{bad[:12]}` on `main` as it is now failed" in issue["body"] and not github.pulls
    assert json.loads((deploy_dir / "state.json").read_text())["events"][0]["reported"] is True


def test_a_health_rollback_gets_an_issue_and_a_revert_pr_of_the_commit_it_took_off_once(
    repository: Path, tmp_path: Path, github: GitHubStandIn
) -> None:
    """health.yml on the serving runner after `retrain health` put the previous release back: state.json holds the
    event as health.py records it (the failing release, the restored one, reported: false)."""
    bad, deploy_dir, flags = _health_rollback(repository, tmp_path)
    down = act(repository, tmp_path, "workflow_dispatch", "health.yml", *flags, github="http://127.0.0.1:9")
    assert down.returncode != 0, down.stdout[-4000:]  # GitHub unreachable: the run fails ...
    assert json.loads((deploy_dir / "state.json").read_text())["events"][0]["reported"] is False  # ... and retries
    result = act(repository, tmp_path, "workflow_dispatch", "health.yml", *flags, github=github.url)
    assert result.returncode == 0, result.stdout[-4000:]
    (issue,) = github.issues_labelled("deploy-rolled-back")
    assert f"flight_delay:{bad[:12]}" in issue["body"]
    reverted = git("show", f"revert/{bad[:12]}:params.yaml", cwd=tmp_path / "origin.git")
    assert "max_records: 2000 " in reverted  # the revert PR's branch names what serves again
    message = git("log", "-1", "--format=%s", f"revert/{bad[:12]}", cwd=tmp_path / "origin.git")
    assert message.strip() == f"Revert {bad[:12]}: its release failed the health check"
    assert json.loads((deploy_dir / "state.json").read_text())["events"][0]["reported"] is True
    # opened with the job's token, so no pull_request run: its checks come from ci.yml and pr.yml dispatched on it
    (pull,) = github.open_pulls()
    assert pull["head"]["label"] == f"acme:revert/{bad[:12]}" and pull["title"] == message.strip()
    head = git("rev-parse", f"revert/{bad[:12]}", cwd=tmp_path / "origin.git").strip()
    assert {(s["sha"], s["context"], s["state"]) for s in github.statuses} == {
        (head, "test", "pending"),
        (head, "gate", "pending"),
    }
    assert github.dispatches == [
        {"workflow": "ci.yml", "ref": f"revert/{bad[:12]}", "inputs": {}},
        {"workflow": "pr.yml", "ref": f"revert/{bad[:12]}", "inputs": {"pr": str(pull["number"]), "base": "main"}},
    ]

    again = act(repository, tmp_path, "workflow_dispatch", "health.yml", *flags, github=github.url)  # the next run
    assert again.returncode == 0 and "health: no rollback to report" in again.stdout, again.stdout[-3000:]


def test_make_retrain_in_a_fresh_template_copy_on_another_cpu_leaves_git_status_clean(_remote_template: Path) -> None:
    """Day one: a repository made with "Use this template" (one commit), checked out at depth 1 on a GitHub-hosted
    runner whose CPU is not the one that made the lock: `make retrain` reproduces every committed output (the
    session's template repository ran it, tests/e2e/conftest.py)."""
    made = files.read_json(_remote_template / "day-one.json")
    assert made["returncode"] == 0, made["output"][-4000:]
    assert made["status"] == "", made["status"]
