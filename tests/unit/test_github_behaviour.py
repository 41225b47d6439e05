"""What GitHub does that `act` does not show, checked on the workflow files and the Makefile they call."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support import HOSTED_RUNNER, ROOT, RUNNER_PREFIXES, act_env, environment

SKIP_MARKERS = ("[skip ci]", "[ci skip]", "[no ci]", "[skip actions]", "[actions skip]")


def _recipes() -> str:
    return (ROOT / "Makefile").read_text() + "".join(p.read_text() for p in (ROOT / ".github/workflows").glob("*.yml"))


def test_no_pushed_commit_can_carry_a_skip_ci_marker() -> None:
    """GitHub starts no push or pull_request workflow for a head commit whose message has a skip marker, and a
    squash or rebase merge carries it onto main (docs: "Skipping workflow runs")."""
    text = _recipes()
    creates = re.findall(r"cml pr create[^\n]*(?:\\\n[^\n]*)*", text)
    assert creates, "no `cml pr create` found"
    for call in creates:
        # without --message CML 0.20.6 appends " [skip ci]" (iterative/cml src/cml.js, prCreate)
        assert "--message" in call and "--skip-ci" not in call, call
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


def test_cml_comes_from_setup_cml_pinned_before_every_step_that_calls_it() -> None:
    """CML from npm crashes on the runner's Node 20 on the report's first PNG (@npcz/magic's wasm fetch);
    iterative/setup-cml installs the standalone binary. Every job with a step that reaches `cml` sets it up first,
    pinned to a SHA."""
    assert "npm install" not in (ROOT / "Makefile").read_text()
    cml_targets = ("ci-publish", "ci-comment", "ci-gate", "ci-runner")
    for name, workflow in _workflows().items():
        jobs = workflow.get("jobs")
        assert isinstance(jobs, dict)
        for job_name, job in jobs.items():
            steps = job.get("steps", [])
            uses = [i for i, step in enumerate(steps) if str(step.get("uses", "")).startswith("iterative/setup-cml@")]
            calls = [
                i for i, step in enumerate(steps) if any(f"make {t}" in str(step.get("run", "")) for t in cml_targets)
            ]
            if calls:
                assert uses and uses[0] < calls[0], f"{name} {job_name}: no iterative/setup-cml before `cml`"
                assert re.fullmatch(r"iterative/setup-cml@[0-9a-f]{40}", steps[uses[0]]["uses"]), steps[uses[0]]["uses"]
                assert steps[uses[0]]["with"]["vega"] is False


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
    keyed on the lock files (uv) and on dvc.lock and the pointers (.dvc/cache); the serving machine's deploy keeps
    its own setup-python."""
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
            assert not any(u.startswith("actions/setup-python") for u in uses) or name == "deploy.yml", (name, job_name)


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
