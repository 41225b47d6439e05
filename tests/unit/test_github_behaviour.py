"""What GitHub does that `act` does not show, checked on the workflow files and the Makefile they call."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from retrain.release.propose import title
from tests.support import HOSTED_RUNNER, ROOT, RUNNER_PREFIXES, act_env, environment

SKIP_MARKERS = ("[skip ci]", "[ci skip]", "[no ci]", "[skip actions]", "[actions skip]")


def _recipes() -> str:
    return (ROOT / "Makefile").read_text() + "".join(p.read_text() for p in (ROOT / ".github/workflows").glob("*.yml"))


def test_no_pushed_commit_can_carry_a_skip_ci_marker() -> None:
    """GitHub starts no push or pull_request workflow for a head commit whose message has a skip marker, and a
    squash or rebase merge carries it onto main (docs: "Skipping workflow runs"). CML's `pr create` appends
    " [skip ci]" without --message (iterative/cml src/cml.js, prCreate): the workflows do not use it."""
    text = _recipes()
    assert "cml pr create" not in text
    assert title("weekly [skip ci] run [CI SKIP]\n[no ci]") == "Retrain: weekly run"
    for marker in SKIP_MARKERS:
        assert f'-m "{marker}' not in text and f'--message "{marker}' not in text


def _workflows() -> dict[str, dict[object, object]]:
    import yaml

    return {path.name: yaml.safe_load(path.read_text()) for path in (ROOT / ".github/workflows").glob("*.yml")}


def _triggers(workflow: dict[object, object]) -> dict[object, object]:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    return triggers if isinstance(triggers, dict) else {str(triggers): None}


def test_the_required_checks_run_on_every_pull_request() -> None:
    """A required check whose workflow a `paths:` filter skipped stays Pending and blocks the merge (GitHub docs,
    "Skipping workflow runs"): pr.yml (check `gate`) and ci.yml (check `test`) have no path filter."""
    workflows = _workflows()
    for name in ("pr.yml", "ci.yml"):
        pull_request = _triggers(workflows[name])["pull_request"] or {}
        assert isinstance(pull_request, dict)
        assert not {"paths", "paths-ignore"} & set(pull_request), name


def test_pull_request_jobs_get_no_write_secret() -> None:
    """`pull_request` runs the PR's own workflow file and Makefile: only read-only credentials reach it, and not the
    shared MLflow registry, whose aliases the PR's code could move."""
    for name, workflow in _workflows().items():
        if "pull_request" not in _triggers(workflow):
            continue
        text = (ROOT / ".github/workflows" / name).read_text()
        used = set(re.findall(r"secrets\.([A-Za-z0-9_]+)", text))
        assert used <= {"GITHUB_TOKEN"} | {s for s in used if s.startswith("DVC_READ_")}, (name, used)
        assert "MLFLOW_" not in text, name


def test_every_step_that_reaches_cml_can_download_it_with_the_jobs_token() -> None:
    """CML from npm crashes on the runner's Node 20 on the report's first PNG (@npcz/magic's wasm fetch), and
    iterative/setup-cml asks GitHub's API anonymously (Octokit gets `token`, not `auth`: src/setup-cml.ts), within
    the runner address's 60 calls an hour. `make cml` downloads the standalone binary with $GITHUB_TOKEN, checked
    against the release's digest: every step whose target reaches `cml` is given that token."""
    assert "npm install" not in (ROOT / "Makefile").read_text()
    cml_targets = ("ci-publish", "ci-gate", "ci-runner")
    for name, workflow in _workflows().items():
        assert "iterative/setup-cml" not in (ROOT / ".github/workflows" / name).read_text(), name
        jobs = workflow.get("jobs")
        assert isinstance(jobs, dict)
        for job_name, job in jobs.items():
            for step in job.get("steps", []):
                if any(f"make {target}" in str(step.get("run", "")) for target in cml_targets):
                    token = step.get("env", {}).get("GITHUB_TOKEN", "")
                    assert token == "${{ secrets.GITHUB_TOKEN }}", (name, job_name, step.get("name"))


def test_a_pr_opened_with_the_workflow_token_gets_both_required_checks_as_commit_statuses() -> None:
    """A PR opened or pushed with GITHUB_TOKEN starts no pull_request workflow, and a dispatched run's checks are
    linked to no PR: the jobs that open such PRs dispatch ci.yml (and pr.yml for the revert PR) on its branch, and
    those post `test` and `gate` as commit statuses when dispatched, with the permissions for it."""
    workflows: dict[str, Any] = _workflows()
    for name, context in (("ci.yml", "test"), ("pr.yml", "gate")):
        assert "workflow_dispatch" in _triggers(workflows[name]), name
        status = workflows[name]["jobs"]["status"]
        assert status["if"] == "github.event_name == 'workflow_dispatch' && !cancelled()"
        assert status["permissions"] == {"contents": "read", "statuses": "write"}
        (step,) = [step for step in status["steps"] if "run" in step]
        assert step["run"] == "make ci-status" and step["env"]["CONTEXT"] == context
    for name, job in (("retrain.yml", "retrain"), ("health.yml", "report")):
        permissions = workflows[name]["jobs"][job]["permissions"]
        assert permissions["actions"] == "write" and permissions["statuses"] == "write", name
    recipes = (ROOT / "Makefile").read_text()
    assert "retrain github dispatch ci.yml" in recipes and "retrain github dispatch pr.yml" in recipes


def test_the_retrain_job_builds_on_the_base_and_the_health_check_keeps_its_venv() -> None:
    """A retrain dispatched from another branch must not carry that branch's commits into the PR; health.yml runs
    every 15 minutes on the serving machine, where actions/checkout's default `clean: true` deleted .venv."""
    workflows: dict[str, Any] = _workflows()
    steps = workflows["retrain.yml"]["jobs"]["retrain"]["steps"]
    assert steps[1] == {"name": steps[1]["name"], "if": "inputs.base", "run": "make ci-base"}
    assert workflows["health.yml"]["jobs"]["report"]["steps"][0]["with"]["clean"] is False


def test_only_main_reaches_the_serving_machine_and_the_production_secrets() -> None:
    """A job on the serving machine's runner (DEPLOY_RUNNER, MONITOR_RUNNER) runs only for main, never from a
    pull_request workflow; deploy.yml's job uses the Environment `production` (main-only deployment branches)."""
    for name, workflow in _workflows().items():
        text = (ROOT / ".github/workflows" / name).read_text()
        if "pull_request" in _triggers(workflow):
            assert "DEPLOY_RUNNER" not in text and "MONITOR_RUNNER" not in text and "self-hosted" not in text, name
        jobs = workflow["jobs"]
        assert isinstance(jobs, dict)
        for job_name, job in jobs.items():
            if "DEPLOY_RUNNER" in str(job.get("runs-on")) or "MONITOR_RUNNER" in str(job.get("runs-on")):
                assert "github.ref == 'refs/heads/main'" in job["if"], (name, job_name)
    deploy = _workflows()["deploy.yml"]["jobs"]
    assert isinstance(deploy, dict) and deploy["deploy"]["environment"] == "production"


def test_a_write_secret_reaches_only_jobs_in_an_environment_that_holds_it() -> None:
    """Repository secrets reach the pull_request run of any branch pushed to the repository (it runs the branch's own
    pr.yml); an environment's secrets reach only jobs of the branches its policy allows (`main`). Every job that
    reads a secret of an environment's list runs in that environment, and the environments are the ones setup
    makes."""
    from retrain.release.repository import ENVIRONMENTS

    written = set().union(*ENVIRONMENTS.values())
    for name, workflow in _workflows().items():
        jobs = workflow["jobs"]
        assert isinstance(jobs, dict)
        for job_name, job in jobs.items():
            used = set(re.findall(r"secrets\.([A-Za-z0-9_]+)", str(job))) & written
            if used:
                environment = job.get("environment")
                assert environment in ENVIRONMENTS, (name, job_name, used)
                assert used <= set(ENVIRONMENTS[environment]), (name, job_name, used - set(ENVIRONMENTS[environment]))
    retrain = _workflows()["retrain.yml"]["jobs"]
    assert isinstance(retrain, dict) and retrain["retrain"]["environment"] == "retrain"


def test_a_data_push_by_a_bot_says_why_it_is_not_retrained() -> None:
    """The retrain job skips pushes by `[bot]` accounts (its own loop): a notice job says so instead of silence."""
    jobs = _workflows()["retrain.yml"]["jobs"]
    assert isinstance(jobs, dict)
    assert "!endsWith(github.actor, '[bot]')" in jobs["retrain"]["if"]
    notice = jobs["bot-push"]
    assert notice["if"] == "github.event_name == 'push' && endsWith(github.actor, '[bot]')"
    assert "::notice::" in notice["steps"][0]["run"]


def test_every_job_that_installs_caches_uv_and_dvc_keyed_on_their_inputs() -> None:
    """Every job on a hosted runner that installs the project goes through the local setup action, whose caches are
    keyed on the lock files (uv) and on dvc.lock and the pointers (.dvc/cache)."""
    import yaml

    action = yaml.safe_load((ROOT / ".github/actions/setup/action.yml").read_text())
    caches = {step["with"]["path"]: step["with"]["key"] for step in action["runs"]["steps"] if "cache@" in step["uses"]}
    assert "requirements*.lock" in caches["~/.cache/uv"] and "dvc.lock" in caches[".dvc/cache"]
    assert all(re.search(r"@[0-9a-f]{40}$", step["uses"]) for step in action["runs"]["steps"])
    for name, workflow in _workflows().items():
        jobs = workflow["jobs"]
        assert isinstance(jobs, dict)
        for job_name, job in jobs.items():
            uses = [str(step.get("uses", "")) for step in job.get("steps", [])]
            installs = ("make ci-retrain", "make ci-gate", "make ci-tune", "make ci-monitor", ".ci/run")
            if any(command in str(step.get("run", "")) for step in job.get("steps", []) for command in installs):
                assert "./.github/actions/setup" in uses, (name, job_name)


def test_actions_setup_python_runs_on_githubs_own_runners_alone() -> None:
    """actions/setup-python supports GitHub's runner images only (its docs: other distributions "may not work"): on
    a self-hosted runner (the serving machine's DEPLOY_RUNNER and MONITOR_RUNNER, a cloud runner) `make` makes the
    venv with Python 3.11 itself (the machine's, or uv's managed one: tests/unit/test_self_hosted.py)."""
    import yaml

    action = yaml.safe_load((ROOT / ".github/actions/setup/action.yml").read_text())
    steps = [("setup/action.yml", step) for step in action["runs"]["steps"]]
    for name, workflow in _workflows().items():
        jobs = workflow["jobs"]
        assert isinstance(jobs, dict)
        steps += [(f"{name} {job_name}", step) for job_name, job in jobs.items() for step in job.get("steps", [])]
    setup_python = [
        (where, step) for where, step in steps if str(step.get("uses", "")).startswith("actions/setup-python")
    ]
    assert setup_python
    for where, step in setup_python:
        assert step.get("if") == "runner.environment == 'github-hosted'", where


def test_the_health_check_every_15_minutes_restores_no_cache() -> None:
    """health.yml runs every 15 minutes on the serving machine, whose workspace keeps its venv (clean: false) and
    whose uv cache is the machine's own: restoring the caches there would fetch them from GitHub at every run."""
    workflows: dict[str, Any] = _workflows()
    uses = [str(step.get("uses", "")) for step in workflows["health.yml"]["jobs"]["report"]["steps"]]
    assert not [u for u in uses if u == "./.github/actions/setup" or u.startswith(("actions/cache", "actions/setup-"))]


def test_monitoring_configures_the_dvc_remote_first() -> None:
    """`make ci-monitor` on a hosted runner needs the remote to fetch a user's own batches (it runs ci-remote)."""
    import os
    import subprocess

    env = dict(os.environ, DVC_REMOTE_URL="/srv/dvc-remote")
    dry = subprocess.run(["make", "-n", "ci-monitor", "LOCKS="], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "dvc remote add --local --force --default ci" in dry.stdout, dry.stdout + dry.stderr


def test_no_test_process_gets_the_variables_of_the_runner_it_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """act in host mode merges its own environment into every step (nektos/act run_context.go): on a GitHub-hosted
    runner `RUNNER_ENVIRONMENT=github-hosted` reached `make deploy` under test, which refused the local target."""
    for name, value in {**HOSTED_RUNNER, "GITHUB_OUTPUT": str(tmp_path / "out"), "ACTIONS_RUNTIME_TOKEN": "t"}.items():
        monkeypatch.setenv(name, value)
    for env in (act_env(tmp_path), environment(tmp_path)):
        leaked = [name for name in env if name.startswith(RUNNER_PREFIXES) or name == "CI"]
        assert leaked == [], leaked
        assert env["PATH"].endswith(os.environ["PATH"])


def test_the_retrain_commit_forces_in_no_ignored_file_that_the_pipeline_does_not_declare() -> None:
    """`make ci-pr` commits PUBLISHED with `git add -f`: a folder there takes every ignored file in it, such as the
    SQLite study `tuning/optuna.db` that `tune` writes when no RETRAIN_TUNE_STORAGE is set."""
    published = subprocess.run(
        ["make", "-s", "--eval=print-published: ; @echo $(PUBLISHED)", "print-published"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    declared = (ROOT / "dvc.yaml").read_text() + (ROOT / "params.yaml").read_text()
    ignored = [line.lstrip("/") for line in (ROOT / ".gitignore").read_text().splitlines() if "/" in line.strip("/")]
    for folder in [entry for entry in published if (ROOT / entry).is_dir()]:
        for pattern in ignored:
            if pattern.startswith(f"{folder}/"):
                assert Path(pattern).name in declared, f"`git add -f {folder}` commits {pattern}"


def test_the_readme_shows_the_settings_that_setup_makes() -> None:
    """The README's table of steps by hand is the list `retrain github setup` and `doctor` use (regenerate it with
    `retrain github table`)."""
    from retrain.release.repository import manual_table

    assert manual_table() in (ROOT / "README.md").read_text()
