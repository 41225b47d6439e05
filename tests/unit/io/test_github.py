"""The REST client against the GitHub stand-in: every page of a list, GitHub's error messages, and a release asset
downloaded with the token, checked against the digest the release API reports (the storage never gets the token)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from retrain.errors import BadInput
from retrain.io.github import GitHub, GitHubError
from tests.e2e.stubs.github import GitHubStandIn
from tests.support import BIN

CML = b"#!/bin/sh\necho 'cml 0.20.6'\n"


@pytest.fixture
def stand_in(github: GitHubStandIn) -> GitHubStandIn:
    github.releases[("iterative/cml", "v0.20.6")] = {"cml-linux-x64": CML, "cml-linux-arm64": b"other"}
    return github


def test_a_list_is_read_over_every_page_and_errors_carry_githubs_message(stand_in: GitHubStandIn) -> None:
    for n in range(205):
        stand_in.open_pull(f"feature-{n}")
    client = GitHub("acme/retrain", "test-token", stand_in.url)
    assert len(list(client.pages("repos/acme/retrain/pulls"))) == 205
    assert sum(1 for call in stand_in.calls if call[1] == "/repos/acme/retrain/pulls") == 3  # 100 a page
    with pytest.raises(GitHubError, match=r"GitHub POST /repos/acme/retrain/issues/999/comments: 404 Not Found"):
        client.close_pull(999, "gone")
    with pytest.raises(GitHubError, match="401 Requires authentication"):
        GitHub("acme/retrain", "wrong", stand_in.url).pulls("retrain/main", "main")
    with pytest.raises(BadInput, match="no GitHub token"):
        GitHub.from_environment({"GITHUB_REPOSITORY": "acme/retrain"})


def test_cml_is_installed_with_the_token_and_checked_against_the_release_digest(
    stand_in: GitHubStandIn, tmp_path: Path
) -> None:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)}
    env |= {"GITHUB_REPOSITORY": "acme/retrain", "GITHUB_TOKEN": "test-token", "CML_API_URL": stand_in.url}
    target = tmp_path / "venv/bin"
    target.mkdir(parents=True)
    make = ["make", "-s", "-C", str(Path(__file__).parents[3]), "cml", "LOCKS=", f"VENV={tmp_path / 'venv'}"]
    (tmp_path / "venv/bin/python").symlink_to(Path(BIN) / "python")
    (tmp_path / "venv/.runtime").touch()  # the venv is taken as it is (LOCKS= empty)
    done = subprocess.run(make, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (target / "cml").read_bytes() == CML and os.access(target / "cml", os.X_OK)
    assert "sha256 checked" in done.stdout

    stand_in.tampered.add("cml-linux-x64")  # the storage serves other bytes than the release API's digest names
    (target / "cml").unlink()
    done = subprocess.run(make, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "does not match the digest the release API reports" in done.stderr
    assert not (target / "cml").exists()


@pytest.mark.parametrize(
    "origin",
    ["git@github.com:acme/retrain.git", "https://github.com/acme/retrain", "https://github.com/acme/retrain.git"],
)
def test_at_a_clone_the_repository_comes_from_origins_url_and_a_missing_token_is_named(
    origin: str, tmp_path: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", origin], check=True)
    client = GitHub.for_checkout(tmp_path, {"GITHUB_TOKEN": "t"})
    assert (client.repository, client.token, client.api) == ("acme/retrain", "t", "https://api.github.com")
    with pytest.raises(BadInput, match="gh auth login"):
        GitHub.for_checkout(tmp_path, {"PATH": str(tmp_path)})  # no token, and no gh to ask
