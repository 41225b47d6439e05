"""The retrain PR against a GitHub stand-in and a real bare `origin` whose hook refuses what GitHub refuses a workflow
token: found by its exact head among a fork's PR from `main` and more than a page of newer PRs, updated in place,
replaced when the base changed a workflow file; a base that is not a branch is refused before anything is pushed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from retrain.cli.main import main
from retrain.errors import BadInput
from retrain.io.github import GitHub
from retrain.release.propose import propose
from tests.e2e.stubs.github import GitHubStandIn
from tests.support import git, pushed_clone

pytestmark = pytest.mark.slow


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    def write(clone: Path) -> None:
        (clone / ".github/workflows").mkdir(parents=True)
        (clone / ".github/workflows/ci.yml").write_text("on: [push]\n")
        (clone / "params.yaml").write_text("seed: 1\n")

    return pushed_clone(tmp_path, write)


def _retrain(repo: Path, stand_in: GitHubStandIn, seed: int) -> tuple[int, str, int | None]:
    """A retrain's outputs, proposed as the workflow's token would (its pushes pass the origin's hook as a job's)."""
    (repo / "params.yaml").write_text(f"seed: {seed}\n")
    made = propose(
        repo, GitHub("acme/retrain", "test-token", stand_in.url), "main", ["params.yaml"], "", f"seed {seed}"
    )
    git("checkout", "-q", "params.yaml", cwd=repo)
    return made.number, made.commit, made.superseded


def _retrain_prs(stand_in: GitHubStandIn) -> list[dict[str, object]]:
    return [pull for pull in stand_in.open_pulls() if pull["head"]["label"] == "acme:retrain/main"]


def test_the_retrain_pr_is_found_by_its_exact_head_past_a_page_of_newer_prs_and_a_forks_main(
    origin: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    number, first, _ = _retrain(origin, github, 7)
    github.open_pull("main", fork="contributor", title="fix a typo")  # head contributor:main, base main
    others = [github.open_pull(f"feature-{n}") for n in range(31)]  # newer than the retrain PR: 32 on page one
    again, second, superseded = _retrain(origin, github, 8)
    assert (again, superseded) == (number, None)  # the same PR, its content replaced
    assert (
        first != second
        and git("--git-dir", str(origin.parent / "origin.git"), "rev-parse", "retrain/main", cwd=origin).strip()
        == second
    )
    assert git("log", "-1", "--format=%s %P", second, cwd=origin).split() == [
        "Retrain:",
        "seed",
        "8",
        git("rev-parse", "origin/main", cwd=origin).strip(),
    ]
    assert [p["number"] for p in _retrain_prs(github)] == [number]
    assert len(github.open_pulls()) == 1 + 1 + len(others) and not github.comments


def test_a_workflow_change_on_the_base_closes_the_retrain_pr_with_a_link_to_its_successor(
    origin: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    number, _, _ = _retrain(origin, github, 7)
    (origin / ".github/workflows/ci.yml").write_text("on: [push, pull_request]\n")
    git("commit", "-qam", "ci: run on PRs", cwd=origin)
    monkeypatch.delenv("GITHUB_ACTIONS")  # a maintainer's push
    git("push", "-q", "origin", "main", cwd=origin)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    refused = subprocess.run(
        ["git", "push", "-f", "origin", "main:retrain/main"], cwd=origin, capture_output=True, text=True, check=False
    )
    assert "refusing to allow a GitHub App to create or update workflow" in refused.stderr  # the hook as GitHub
    new, commit, superseded = _retrain(origin, github, 8)
    assert superseded == number and new != number
    assert [p["number"] for p in _retrain_prs(github)] == [new]
    assert github.pulls[number]["state"] == "closed"
    assert github.comments_on(number)[0].startswith(f"Superseded by #{new}: `main` changed a workflow file")
    assert (
        git("--git-dir", str(origin.parent / "origin.git"), "rev-parse", "retrain/main", cwd=origin).strip() == commit
    )


@pytest.mark.parametrize("base", ["v1", "HEAD~0", "nosuch"])
def test_a_base_that_is_not_a_branch_is_refused_before_anything_is_pushed(
    origin: Path, github: GitHubStandIn, base: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    git("tag", "v1", cwd=origin)
    git("push", "-q", "origin", "v1", cwd=origin)
    for name, value in {
        "GITHUB_REPOSITORY": "acme/retrain",
        "GITHUB_TOKEN": "test-token",
        "GITHUB_API_URL": github.url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(origin)
    (origin / "params.yaml").write_text("seed: 2\n")
    assert main(["--params", str(origin / "params.yaml"), "github", "propose", "--base", base, "params.yaml"]) == 2
    assert "is not a branch of origin" in caplog.text
    assert "retrain/" not in git("ls-remote", "--heads", "origin", cwd=origin) and not github.pulls


def test_the_checkout_must_be_the_base_so_that_the_pr_carries_no_other_commit(
    origin: Path, github: GitHubStandIn
) -> None:
    git("checkout", "-q", "-b", "experiment", cwd=origin)
    (origin / "notes.md").write_text("not for main\n")
    git("add", "notes.md", cwd=origin)
    git("commit", "-qm", "an experiment", cwd=origin)
    with pytest.raises(BadInput, match="holds commits that main does not"):
        _retrain(origin, github, 9)
    assert not github.pulls
