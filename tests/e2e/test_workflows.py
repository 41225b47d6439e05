"""The real workflow files, run by `act` on this host, against a bare `origin` and a recording `cml`."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from retrain.domain import features, nycflights
from retrain.params import Params
from retrain.pipeline import featurize, train
from tests.support import act, act_env, git, log_lines

pytestmark = pytest.mark.slow


def _add_july(repository: Path, tmp_path: Path) -> None:
    for command in (["retrain", "new-batch", "2013-07"], ["dvc", "push", "--quiet"]):  # as a data producer would
        subprocess.run(command, cwd=repository, env=act_env(tmp_path), check=True, capture_output=True)
    git("add", "data/landing", cwd=repository)
    git("commit", "-qm", "data: 2013-07", cwd=repository)


def test_a_dispatch_with_nothing_new_opens_no_pr_and_ends_green(repository: Path, tmp_path: Path) -> None:
    """Same data, same params: the same model bytes and the same dvc.lock, so there is nothing to propose."""
    result = act(repository, tmp_path, "workflow_dispatch", "retrain.yml", "--input", "reason=weekly")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "nothing to retrain on: same data, same params, same model" in result.stdout
    branches = git("ls-remote", "--heads", str(tmp_path / "origin.git"), cwd=repository)
    assert "refs/heads/retrain/" not in branches
    calls = [call.read_text().split("\n")[:2] for call in sorted((tmp_path / "cml").glob("*.args"))]
    assert ["comment", "update"] not in calls  # `pr create` printed "undefined": there is no PR to comment on


def test_a_data_push_opens_the_retrain_pr_with_the_report_and_a_dispatch_replaces_its_content(
    with_remote: Path, tmp_path: Path
) -> None:
    """One retrain PR per base: the data push opens it with the report (the new batch, its drift); the dispatch that
    follows force-pushes retrain/main (one commit on main) and CML returns the PR the first opened, whose comment gets
    the second report."""
    repository = with_remote
    _add_july(repository, tmp_path)
    bare = str(tmp_path / "origin.git")
    main_lock = git("--git-dir", bare, "show", "main:dvc.lock", cwd=repository)
    event = tmp_path / "push.json"
    event.write_text('{"ref": "refs/heads/main", "head_commit": {"message": "data: 2013-07"}}')
    result = act(repository, tmp_path, "push", "retrain.yml", "-e", str(event), "--env", "GITHUB_RUN_ID=101")
    assert result.returncode == 0, result.stdout[-4000:]
    branches = git("ls-remote", "--heads", bare, cwd=repository)
    (branch,) = [line.split("refs/heads/")[1] for line in branches.splitlines() if "refs/heads/retrain/" in line]
    pushed_lock = git("--git-dir", bare, "show", f"{branch}:dvc.lock", cwd=repository)
    assert "models/model.skops" in pushed_lock
    assert git("--git-dir", bare, "rev-parse", f"{branch}~1", cwd=repository) == git(
        "rev-parse", "HEAD", cwd=repository
    )
    assert branch == "retrain/main"  # one retrain PR per base
    calls = sorted((tmp_path / "cml").glob("*.args"))
    assert [call.read_text().split("\n")[:2] for call in calls] == [
        ["repo", "prepare"],
        ["pr", "create"],
        ["comment", "update"],
    ]
    assert "--branch\nretrain/main\n--target-branch\nmain\n" in calls[1].read_text()
    (status,) = [call.read_text().splitlines() for call in (tmp_path / "gh").glob("*.args")]
    heads = [git("--git-dir", bare, "rev-parse", branch, cwd=repository).strip()]
    assert status[:3] == ["api", "--method", "POST"] and status[3].endswith(f"/statuses/{heads[0]}")  # the PR's head
    assert {"context=gate", "state=success"} <= set(status)
    assert any(argument.startswith("description=gate: promote") for argument in status)
    # GitHub runs no workflow for a head commit that says [skip ci]: CML adds it unless given --message
    subject = git("--git-dir", bare, "log", "-1", "--format=%s", branch, cwd=repository).strip()
    assert subject == "Retrain: push"
    (report,) = (tmp_path / "cml").glob("*.md")
    text = report.read_text()
    assert text.startswith("## ✅ Promote") and "data push" in text
    assert "| metric | champion | challenger | delta | 95% interval | p-value |" in text
    assert "Batches added since the champion on `main` was trained: 2013-07.parquet" in text
    assert "<summary>Drift</summary>" in text and "![drift](drift.png)" in text
    urls = [re.findall(r"https://github.com/acme/retrain/pull/\d+", result.stdout)[-1]]

    overrides = ["--input", "params=train.seed=8", "--env", "GITHUB_RUN_ID=102", "--var", "REPORT_IMAGES=commit"]
    result = act(repository, tmp_path, "workflow_dispatch", "retrain.yml", "--input", "reason=seed 8", *overrides)
    assert "Success - Main Open or update the PR" in result.stdout, result.stdout[-3000:]
    heads.append(git("--git-dir", bare, "rev-parse", "retrain/main", cwd=repository).strip())
    urls.append(re.findall(r"https://github.com/acme/retrain/pull/\d+", result.stdout)[-1])
    assert urls[0] == urls[1] and heads[0] != heads[1]
    assert git("--git-dir", bare, "rev-parse", "retrain/main~1", cwd=repository) == git(
        "rev-parse", "HEAD", cwd=repository
    )
    assert git("--git-dir", bare, "log", "-1", "--format=%s", "retrain/main", cwd=repository).strip() == (
        "Retrain: seed 8"
    )
    params = yaml.safe_load(git("--git-dir", bare, "show", "retrain/main:params.yaml", cwd=repository))
    assert params["train"]["seed"] == 8
    assert "refs/heads/retrain/101" not in git("ls-remote", "--heads", bare, cwd=repository)
    reports = sorted((tmp_path / "cml").glob("*.md"))
    assert len(reports) == 2
    second = reports[1].read_text()
    assert "manual dispatch" in second and ": seed 8" in second
    # REPORT_IMAGES=commit: the PNGs are on the branch, linked by absolute blob URL of that commit, not uploaded
    assert "reports/roc.png" in git("--git-dir", bare, "ls-tree", "-r", "--name-only", heads[1], cwd=repository)
    assert f"/blob/{heads[1]}/reports/roc.png?raw=true)" in reports[1].read_text()
    arguments = [call.read_text().splitlines() for call in sorted((tmp_path / "cml").glob("*.args"))]
    assert [args[-2] for args in arguments if args[:2] == ["comment", "update"]] == ["--publish", "--no-publish"]
    statuses = [call.read_text() for call in sorted((tmp_path / "gh").glob("*.args"))]
    assert [f"statuses/{head}" in status for status, head in zip(statuses, heads, strict=True)] == [True, True]
    assert git("--git-dir", bare, "show", "main:dvc.lock", cwd=repository) == main_lock


def test_a_degrading_override_still_opens_the_pr_and_fails_the_gate(with_remote: Path, tmp_path: Path) -> None:
    repository = with_remote
    override = "params=train.hyperparameters.hist_gradient_boosting.max_iter=3"
    result = act(
        repository, tmp_path, "workflow_dispatch", "retrain.yml", "--input", "reason=try 3 trees", "--input", override
    )
    assert result.returncode != 0
    assert "Failure - Main Gate" in result.stdout, result.stdout[-3000:]
    (status,) = [call.read_text().splitlines() for call in (tmp_path / "gh").glob("*.args")]
    assert "state=failure" in status  # the required status `gate` blocks the merge
    (report,) = (tmp_path / "cml").glob("*.md")
    text = report.read_text()
    assert text.startswith("## ❌ Block: roc_auc") and "try 3 trees" in text
    assert "`train.hyperparameters.hist_gradient_boosting.max_iter` | `300` | `3`" in text


def test_monitor_over_a_drifted_log_dispatches_a_retrain_and_raises_the_alert(
    repository: Path, tmp_path: Path, params: Params
) -> None:
    weather = nycflights.weather()
    spring = featurize.label(features.join_weather(nycflights.flights(2013, 4), weather), 15)[0]
    settings = params.train.model_copy(update={"hyperparameters": {"hist_gradient_boosting": {"max_iter": 20}}})
    model = train.train(spring, settings)
    august = features.join_weather(nycflights.flights(2013, 8), weather)
    log = tmp_path / "inference"
    log.mkdir()
    (log / "predictions-today.jsonl").write_text("\n".join(log_lines(model, august, when=pd.Timestamp.now(tz="UTC"))))
    result = act(repository, tmp_path, "workflow_dispatch", "monitor.yml", "--var", f"RETRAIN_INFERENCE_LOG={log}")
    assert result.returncode == 0, result.stdout[-4000:]
    calls = {path.stem: path.read_text().splitlines() for path in (tmp_path / "gh").glob("*.args")}
    dispatch = [args for args in calls.values() if args[:2] == ["workflow", "run"]]
    assert len(dispatch) == 1 and dispatch[0][2] == "retrain.yml"
    assert dispatch[0][4].startswith("reason=monitoring: data drift in recent traffic")
    created = [args for args in calls.values() if args[:2] == ["issue", "create"]]
    assert len(created) == 1 and "retrain-alert" in created[0]
    (alert,) = (tmp_path / "gh").glob("*.md")
    assert alert.read_text().startswith("## Retraining triggered: data drift in recent traffic")


def test_monitor_skips_with_a_notice_when_unconfigured_and_fails_loudly_when_blind(
    repository: Path, tmp_path: Path
) -> None:
    """A hosted runner reading a folder of the serving machine finds nothing: that is the `monitoring-blind` issue
    and a red run, never a green "not enough volume"."""
    result = act(repository, tmp_path, "workflow_dispatch", "monitor.yml")
    assert result.returncode == 0 and "monitoring skipped: no inference log is configured" in result.stdout
    assert "make ci-monitor" not in result.stdout

    missing = tmp_path / "serving-machine/logs"
    result = act(repository, tmp_path, "workflow_dispatch", "monitor.yml", "--var", f"RETRAIN_INFERENCE_LOG={missing}")
    assert result.returncode != 0 and f"monitoring is blind: {missing}: no such folder" in result.stdout
    calls = [path.read_text().splitlines() for path in (tmp_path / "gh").glob("*.args")]
    assert not [args for args in calls if args[:2] == ["workflow", "run"]]  # no retrain dispatched
    (created,) = [args for args in calls if args[:2] == ["issue", "create"]]
    assert "monitoring-blind" in created and created[created.index("--title") + 1].startswith("Monitoring is blind")


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


def test_a_health_rollback_gets_an_issue_and_a_revert_pr_of_the_commit_it_took_off_once(
    repository: Path, tmp_path: Path
) -> None:
    """health.yml on the serving runner after `retrain health` put the previous release back: state.json holds the
    event as health.py records it (the failing release, the restored one, reported: false)."""
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
    flags = ["--var", 'DEPLOY_RUNNER=["ubuntu-latest"]', "--var", f"RETRAIN_DEPLOY_DIR={deploy_dir}"]
    result = act(repository, tmp_path, "workflow_dispatch", "health.yml", *flags)
    assert result.returncode == 0, result.stdout[-4000:]
    calls = [path.read_text().splitlines() for path in sorted((tmp_path / "gh").glob("*.args"))]
    assert [args[:2] for args in calls if args[0] == "issue"] == [["issue", "list"], ["issue", "create"]]
    assert f"flight_delay:{bad[:12]}" in next((tmp_path / "gh").glob("*.md")).read_text()
    reverted = git("show", f"revert/{bad[:12]}:params.yaml", cwd=tmp_path / "origin.git")
    assert "max_records: 2000 " in reverted  # the revert PR's branch names what serves again
    message = git("log", "-1", "--format=%s", f"revert/{bad[:12]}", cwd=tmp_path / "origin.git")
    assert message.strip() == f"Revert {bad[:12]}: its release failed the health check"
    assert json.loads((deploy_dir / "state.json").read_text())["events"][0]["reported"] is True

    again = act(repository, tmp_path, "workflow_dispatch", "health.yml", *flags)  # the next scheduled run
    assert again.returncode == 0 and "health: no rollback to report" in again.stdout, again.stdout[-3000:]
