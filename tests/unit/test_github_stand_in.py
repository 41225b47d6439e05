"""The GitHub stand-in holds every call and every answer to GitHub's OpenAPI description (@octokit/openapi): a call
outside it is refused with GitHub's answer and recorded, and the project's own client passes; the settings it models
answer as GitHub does (admin rights, plan limits, workflows of a fork)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from retrain.io.github import GitHub, GitHubError
from tests.e2e.stubs.github import ADMIN_ONLY, BILLING, UPGRADE, GitHubStandIn
from tests.support import bare_origin, git

REPO = "repos/acme/retrain"
CI = "name: CI\non:\n  push:\n  workflow_dispatch:\n    inputs:\n      pr:\n        required: false\njobs: {}\n"


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """origin.git (where the `github` fixture looks) with main: two workflows."""
    bare, clone = bare_origin(tmp_path / "origin.git"), tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True, capture_output=True)
    (clone / ".github/workflows").mkdir(parents=True)
    (clone / ".github/workflows/ci.yml").write_text(CI)
    (clone / ".github/workflows/health.yml").write_text("on:\n  schedule:\n    - cron: '*/15 * * * *'\njobs: {}\n")
    git("add", "-A", cwd=clone)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init", cwd=clone)
    git("push", "-q", "origin", "main", "main:feature", cwd=clone)
    return bare


@pytest.fixture
def client(github: GitHubStandIn, origin: Path) -> GitHub:
    return GitHub("acme/retrain", "test-token", github.url)


def _refused(client: GitHub, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> str:
    with pytest.raises(GitHubError) as refused:
        client.call(method, path, body, query)
    return str(refused.value)


def test_a_call_the_description_does_not_allow_is_refused_as_github_refuses_it_and_recorded(
    github: GitHubStandIn, client: GitHub
) -> None:
    assert "404 Not Found" in _refused(client, "GET", f"{REPO}/pulls/7/reviews")  # an operation not extracted
    assert "404 Not Found" in _refused(client, "DELETE", f"{REPO}/pulls/1")  # a method the path does not have
    assert "404 Not Found" in _refused(client, "GET", f"{REPO}/pulls/seven")  # pull_number is an integer
    missing = _refused(client, "POST", f"{REPO}/pulls", {"head": "feature", "title": "t"})
    assert '422 Invalid request.\n\n"base" wasn\'t supplied.' in missing
    wrong = _refused(client, "POST", f"{REPO}/statuses/{'a' * 40}", {"state": 1})
    assert "422 Invalid request.\n\nFor 'properties/state', 1 is not a string." in wrong
    assert "is not one of" in _refused(client, "POST", f"{REPO}/statuses/{'a' * 40}", {"state": "green"})
    extra = _refused(client, "PUT", f"{REPO}/environments/production", {"wait_timer": 0, "branch": "main"})
    assert '"branch" is not a permitted key.' in extra
    assert "422" in _refused(client, "GET", f"{REPO}/pulls", query={"per_page": "many"})  # an integer
    assert "422" in _refused(client, "GET", f"{REPO}/pulls", query={"colour": "red"})  # not a parameter of it
    assert "nil is not an object" in _refused(client, "POST", f"{REPO}/labels")  # the body it requires
    problems = "\n".join(github.violations)
    assert len(github.violations) == 10, problems
    assert "no operation of the extract has this path" in problems and "this path has only ['GET', 'PATCH']" in problems
    assert "query parameter 'colour' is not one it declares" in problems
    github.violations.clear()  # refused on purpose


def test_an_answer_the_description_does_not_allow_is_a_violation_of_the_stand_in(
    github: GitHubStandIn, client: GitHub
) -> None:
    github.runners = [{"id": "r1", "name": "box", "os": "linux", "status": "online", "busy": False, "labels": []}]
    client.call("GET", f"{REPO}/actions/runners")
    (problem,) = github.violations
    assert "the stand-in's answer to GET /repos/acme/retrain/actions/runners" in problem
    assert "at runners/0/id: 'r1' is not of type 'integer'" in problem
    github.violations.clear()


def test_the_projects_client_passes_the_description(github: GitHubStandIn, client: GitHub, origin: Path) -> None:
    """The calls of `retrain github` and CML: pages, a PR found by exact head, its comment, statuses, dispatches,
    a release asset; the `github` fixture fails the test on any violation."""
    github.releases[("iterative/cml", "v0.20.6")] = {"cml-linux-x64": b"cml"}
    github.open_pull("main", fork="contributor")
    pull = client.open_pull("feature", "main", "Retrain", "report")
    assert pull["number"] == 2 and pull["head"]["repo"]["full_name"] == "acme/retrain"
    assert [p["number"] for p in client.pulls("feature", "main")] == [2]
    client.call("POST", f"{REPO}/issues/2/comments", {"body": "first"})
    client.call("PATCH", f"{REPO}/issues/comments/1", {"body": "second"})
    assert [c["body"] for c in client.pages(f"{REPO}/issues/2/comments")] == ["second"]
    client.status(git("--git-dir", str(origin), "rev-parse", "feature", cwd=origin).strip(), "gate", "success")
    client.dispatch("ci.yml", "feature", {"pr": "2"})
    assert client.release_asset("iterative/cml", "v0.20.6", "cml-linux-x64") == b"cml"
    client.close_pull(2, "superseded")
    assert client.call("GET", f"{REPO}/pulls/2")["state"] == "closed"
    assert github.dispatches == [{"workflow": "ci.yml", "ref": "feature", "inputs": {"pr": "2"}}]
    assert not github.violations


def test_issues_and_pull_requests_share_numbers_and_an_issue_list_holds_both(
    github: GitHubStandIn, client: GitHub
) -> None:
    pull = github.open_pull("feature")
    old = github.open_issue("an old alert", labels=("retrain-alert",))
    created = client.call("POST", f"{REPO}/issues", {"title": "Drift", "body": "b", "labels": ["monitoring-blind"]})
    assert (pull, old, created["number"]) == (1, 2, 3)
    assert client.call("GET", f"{REPO}/labels/monitoring-blind")["color"] == "ededed"  # made by the issue
    listed = list(client.pages(f"{REPO}/issues", {"state": "open"}))
    assert [i["number"] for i in listed] == [3, 2, 1]
    assert "pull_request" in listed[2] and "pull_request" not in listed[0]
    alerts = client.pages(f"{REPO}/issues", {"labels": "retrain-alert", "state": "open"})
    assert [i["number"] for i in alerts] == [2]
    client.call("POST", f"{REPO}/issues/2/comments", {"body": "again"})
    assert github.comments_on(2) == ["again"]
    assert "already_exists" in _refused(client, "POST", f"{REPO}/labels", {"name": "retrain-alert"})
    label = client.call("PATCH", f"{REPO}/labels/retrain-alert", {"color": "FBCA04", "description": "monitoring"})
    assert (label["color"], label["description"]) == ("FBCA04", "monitoring")
    assert "404" in _refused(client, "GET", f"{REPO}/labels/nosuch")


def test_settings_need_admin_rights_and_answer_each_plan_as_github_does(github: GitHubStandIn, client: GitHub) -> None:
    github.admin = False
    assert ADMIN_ONLY in _refused(client, "GET", f"{REPO}/actions/runners")
    assert ADMIN_ONLY in _refused(client, "GET", f"{REPO}/actions/permissions")
    assert "404 Not Found" in _refused(client, "GET", f"{REPO}/branches/main/protection")
    assert client.call("GET", REPO)["permissions"]["admin"] is False
    github.admin, github.private = True, True  # a private repository on GitHub Free
    assert f"403 {UPGRADE}" in _refused(client, "GET", f"{REPO}/branches/main/protection")
    assert f"422 {BILLING}" in _refused(client, "PUT", f"{REPO}/environments/production", {})
    github.plan = "team"  # environments and deployment branches, but no wait timer or reviewers
    policy = {"protected_branches": False, "custom_branch_policies": True}
    environment = client.call("PUT", f"{REPO}/environments/production", {"deployment_branch_policy": policy})
    assert environment["deployment_branch_policy"] == policy
    assert f"422 {BILLING}" in _refused(client, "PUT", f"{REPO}/environments/production", {"wait_timer": 5})
    assert "404 Branch not protected" in _refused(client, "GET", f"{REPO}/branches/main/protection")
    assert client.call("GET", REPO)["visibility"] == "private"


def test_workflows_are_origins_and_a_forks_are_disabled_until_enabled(github: GitHubStandIn, client: GitHub) -> None:
    github.fork = True
    workflows = client.call("GET", f"{REPO}/actions/workflows")["workflows"]
    assert [(w["name"], w["path"], w["state"]) for w in workflows] == [
        ("CI", ".github/workflows/ci.yml", "disabled_fork"),
        (".github/workflows/health.yml", ".github/workflows/health.yml", "disabled_fork"),
    ]
    assert "Cannot trigger a 'workflow_dispatch' on a disabled workflow" in _refused(
        client, "POST", f"{REPO}/actions/workflows/ci.yml/dispatches", {"ref": "main"}
    )
    client.call("PUT", f"{REPO}/actions/workflows/{workflows[0]['id']}/enable")
    client.dispatch("ci.yml", "main")
    assert github.workflow_states == {"ci.yml": "active"} and len(github.dispatches) == 1
    assert client.call("GET", REPO)["fork"] is True
    permissions = client.call("GET", f"{REPO}/actions/permissions/workflow")
    assert permissions == {"default_workflow_permissions": "read", "can_approve_pull_request_reviews": False}
    client.call("PUT", f"{REPO}/actions/permissions/workflow", {"default_workflow_permissions": "write"})
    client.call("PUT", f"{REPO}/actions/permissions", {"enabled": True, "allowed_actions": "selected"})
    assert client.call("GET", f"{REPO}/actions/permissions")["allowed_actions"] == "selected"
    assert github.workflow_permissions["default_workflow_permissions"] == "write"


def test_branch_protection_environments_variables_secrets_and_runners(github: GitHubStandIn, client: GitHub) -> None:
    checks = {"strict": True, "contexts": [], "checks": [{"context": "gate"}, {"context": "test", "app_id": 15368}]}
    body = {"required_status_checks": checks, "enforce_admins": True, "required_pull_request_reviews": None}
    client.call("PUT", f"{REPO}/branches/main/protection", body | {"restrictions": None})
    protection = client.call("GET", f"{REPO}/branches/main/protection")
    assert protection["required_status_checks"]["checks"] == [
        {"context": "gate", "app_id": None},
        {"context": "test", "app_id": 15368},
    ]
    assert protection["enforce_admins"]["enabled"] is True and "required_pull_request_reviews" not in protection
    assert client.call("GET", f"{REPO}/branches/main")["protected"] is True
    assert "404 Branch not found" in _refused(client, "GET", f"{REPO}/branches/nosuch")

    policy = {"protected_branches": False, "custom_branch_policies": True}
    client.call("PUT", f"{REPO}/environments/production", {"deployment_branch_policy": policy})
    made = client.call("POST", f"{REPO}/environments/production/deployment-branch-policies", {"name": "main"})
    listed = client.call("GET", f"{REPO}/environments/production/deployment-branch-policies")
    assert listed["branch_policies"] == [made] and made["type"] == "branch"
    github.environment_secrets["production"] = {"DEPLOY_KEY"}
    secrets = client.call("GET", f"{REPO}/environments/production/secrets")["secrets"]
    assert [s["name"] for s in secrets] == ["DEPLOY_KEY"]
    assert "404" in _refused(client, "GET", f"{REPO}/environments/staging")

    client.call("POST", f"{REPO}/actions/variables", {"name": "DEPLOY_RUNNER", "value": "serving"})
    assert "409" in _refused(client, "POST", f"{REPO}/actions/variables", {"name": "DEPLOY_RUNNER", "value": "x"})
    client.call("PATCH", f"{REPO}/actions/variables/DEPLOY_RUNNER", {"value": "gpu"})
    assert client.call("GET", f"{REPO}/actions/variables/DEPLOY_RUNNER")["value"] == "gpu"
    github.secrets = {"DVC_REMOTE_KEY"}
    assert client.call("GET", f"{REPO}/actions/secrets")["total_count"] == 1
    github.runners = [{"id": 7, "name": "serving", "os": "Linux", "status": "online", "busy": False, "labels": []}]
    (runner,) = client.call("GET", f"{REPO}/actions/runners")["runners"]
    assert (runner["name"], runner["status"]) == ("serving", "online")
