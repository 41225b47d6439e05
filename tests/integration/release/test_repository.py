"""`retrain github setup` and `doctor` against the GitHub stand-in (held to GitHub's OpenAPI description), for a
repository whose origin holds the project's own workflow files: a new repository lists every missing setting, setup
makes them, doctor then passes; a private repository on GitHub Free gets the plan's limits named; a fork's disabled
workflows are enabled; the other side (the DVC remote, the MLflow server, the serving runner) is checked too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from retrain.cli.main import main
from retrain.io.github import GitHub, GitHubError
from retrain.release import repository
from retrain.release.repository import Repository
from tests.e2e.stubs.github import GitHubStandIn
from tests.support import BIN, ROOT, pushed_clone

DVC = str(BIN / "dvc")

pytestmark = pytest.mark.slow


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of origin, whose main holds the project's workflow files and a DVC project with one tracked file."""

    def write(clone: Path) -> None:
        shutil.copytree(ROOT / ".github/workflows", clone / ".github/workflows")
        (clone / "params.yaml").write_text("seed: 1\n")
        subprocess.run([DVC, "init", "-q"], cwd=clone, check=True)
        (clone / "batch.csv").write_text("a,b\n1,2\n")
        subprocess.run([DVC, "add", "-q", "batch.csv"], cwd=clone, check=True)

    return pushed_clone(tmp_path, write)


def _repo(github: GitHubStandIn, **variables: str) -> Repository:
    return Repository(GitHub("acme/retrain", "test-token", github.url), variables)


def _doctor(github: GitHubStandIn, clone: Path) -> tuple[list[str], list[str]]:
    findings = repository.doctor(_repo(github), clone)
    return [f.line() for f in findings if not f.warning], [f.line() for f in findings if f.warning]


def test_a_new_repository_lists_every_missing_setting_and_after_setup_doctor_passes(
    clone: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing, _ = _doctor(github, clone)
    for expected in (
        "workflow permissions: GitHub Actions may not create pull requests",
        "labels: no label deploy-failed",
        "environment retrain: no environment retrain",
        "environment production: no environment production",
        "branch protection: main is not protected",
    ):
        assert any(line.startswith(f"missing: {expected}") for line in missing), (expected, missing)
    assert all("(https://github.com/acme/retrain/" in line for line in missing)

    for name, value in {"GITHUB_REPOSITORY": "acme/retrain", "GITHUB_API_URL": github.url}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    params = str(clone / "params.yaml")
    assert main(["--params", params, "github", "setup", "--var", "REPORT_IMAGES=commit"]) == 0
    assert github.variables == {"REPORT_IMAGES": "commit"}
    checks = github.protection["main"]["required_status_checks"]["checks"]
    assert sorted(check["context"] for check in checks) == ["gate", "test"]
    capsys.readouterr()
    assert main(["--params", params, "github", "doctor"]) == 0
    out = capsys.readouterr().out
    assert "missing:" not in out and "doctor: 0 missing" in out
    assert "60 days without activity" in out  # a public repository's schedules: a warning
    assert main(["--params", params, "github", "setup"]) == 0  # again: nothing changes
    assert "set: " not in capsys.readouterr().out.replace("already set: ", "")


def test_a_private_repository_on_github_free_names_the_plan_limits_and_the_risk(
    clone: Path, github: GitHubStandIn
) -> None:
    github.private, github.plan = True, "free"
    said: list[str] = []
    limits = repository.setup(_repo(github), said.append)
    assert {f.setting for f in limits} == {"environment retrain", "environment production", "branch protection"}
    missing, warnings = _doctor(github, clone)
    assert [line.split(":")[1].strip() for line in missing] == [
        "environment retrain",
        "environment production",
        "branch protection",
    ]
    assert all("GitHub Free has no" in line for line in missing)
    assert any("pull_request run of any branch pushed to this repository" in line for line in warnings)
    assert not any("60 days" in line for line in warnings)  # the rule is for public repositories


def test_a_forks_disabled_workflows_are_listed_and_enabled(clone: Path, github: GitHubStandIn) -> None:
    github.fork = True
    missing, _ = _doctor(github, clone)
    disabled = [line for line in missing if line.startswith("missing: workflows:")]
    assert len(disabled) == len(repository.WORKFLOWS) and "retrain.yml is disabled_fork" in "".join(disabled)
    repository.setup(_repo(github), lambda line: None)
    missing, _ = _doctor(github, clone)
    assert missing == []


def test_doctor_checks_the_dvc_remote_the_mlflow_server_and_the_serving_runner(
    clone: Path, github: GitHubStandIn, tmp_path: Path
) -> None:
    repository.setup(_repo(github), lambda line: None)
    bucket = tmp_path / "bucket"
    github.variables |= {
        "DVC_REMOTE_URL": str(bucket),
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # nothing listens there
        "DEPLOY_TARGET": "local",
        "DEPLOY_RUNNER": '["self-hosted", "retrain-serve"]',
    }
    missing, _ = _doctor(github, clone)
    assert [line.split(":")[1].strip() for line in missing] == ["MLflow", "runner", "DVC remote"], missing
    assert "lacks 1 file(s) that dvc.lock names (batch.csv)" in missing[2]
    assert "no runner with the labels ['retrain-serve', 'self-hosted'] is registered" in missing[1]

    subprocess.run([DVC, "remote", "add", "-d", "bucket", str(bucket)], cwd=clone, check=True)
    subprocess.run([DVC, "push", "-q"], cwd=clone, check=True)
    labels = [{"id": i, "name": name, "type": "custom"} for i, name in enumerate(["self-hosted", "retrain-serve"])]
    github.runners = [{"id": 1, "name": "serve-1", "os": "Linux", "status": "offline", "busy": False, "labels": labels}]
    del github.variables["MLFLOW_TRACKING_URI"]
    missing, _ = _doctor(github, clone)
    assert [line.split(":")[1].strip() for line in missing] == ["runner"] and "is offline" in missing[0]
    github.runners[0]["status"] = "online"
    assert _doctor(github, clone)[0] == []
    github.admin = False  # a maintainer's token: settings it cannot read are named, runners are a warning
    missing, warnings = _doctor(github, clone)
    assert any("needs admin rights" in line for line in missing + warnings)


def test_setup_adds_the_loops_checks_to_a_stricter_rule_and_keeps_the_rest_of_it(
    clone: Path, github: GitHubStandIn
) -> None:
    """A PUT replaces the whole rule: a team's own required check, its reviews and flags must survive setup."""
    github.protection["main"] = {
        "required_status_checks": {
            "strict": True,
            "checks": [{"context": "lint", "app_id": 123}],
            "contexts": ["lint"],
        },
        "enforce_admins": {"enabled": True},
        "required_pull_request_reviews": {
            "required_approving_review_count": 2,
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": False,
        },
        "required_linear_history": {"enabled": True},
    }
    repository.setup(_repo(github), lambda line: None)
    rule = github.protection["main"]
    checks = {check["context"]: check["app_id"] for check in rule["required_status_checks"]["checks"]}
    assert checks == {"lint": 123, "test": -1, "gate": -1} and rule["required_status_checks"]["strict"] is True
    reviews = rule["required_pull_request_reviews"]
    assert (reviews["required_approving_review_count"], reviews["dismiss_stale_reviews"]) == (2, True)
    assert rule["enforce_admins"]["enabled"] and rule["required_linear_history"]["enabled"]
    assert _doctor(github, clone)[0] == []


def test_a_token_without_admin_rights_is_not_taken_for_a_plan_limit(clone: Path, github: GitHubStandIn) -> None:
    """A private repository of a paid plan, a maintainer's token: GitHub refuses the settings (403, 404); setup
    fails naming it, and doctor names no plan limit."""
    github.private, github.plan, github.admin = True, "team", False
    with pytest.raises(GitHubError, match="Must have admin rights"):
        repository.setup(_repo(github), lambda line: None)
    findings = repository.doctor(_repo(github), clone)
    assert not any(f.plan for f in findings) and any("needs admin rights" in f.problem for f in findings)


def test_an_environment_that_admits_other_branches_too_is_left_to_a_person_and_said(
    clone: Path, github: GitHubStandIn
) -> None:
    policy = {"protected_branches": False, "custom_branch_policies": True}
    branches = [{"name": "main", "type": "branch"}, {"name": "release/*", "type": "branch"}]
    github.environments["production"] = {"deployment_branch_policy": policy, "branch_policies": branches}
    said: list[str] = []
    left = repository.setup(_repo(github), said.append)
    assert [f.setting for f in left] == ["environment production"] and "release/*" in left[0].problem
    assert any(line.startswith("not set, by hand: missing: environment production") for line in said), said
    assert github.environments["production"]["branch_policies"] == branches  # a team's policy is not deleted
