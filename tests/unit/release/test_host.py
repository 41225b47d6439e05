"""Whom `retrain serve-host` sets the serving host up for, and where: the user the runner runs as (the runner refuses
to run as root by default), in that user's home; the setting up itself: tests/integration/release/test_host.py."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from retrain.errors import BadInput
from retrain.release import deploy, host

NOBODY = pwd.getpwnam("nobody")


def test_as_root_under_sudo_the_host_is_the_sudo_users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setenv("SUDO_USER", "nobody")
    assert host.account(None) == NOBODY


def test_root_without_sudo_must_name_the_runners_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host that root serves is root's alone (the unit runs as root, its socket is 0700): never by default."""
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.delenv("SUDO_USER", raising=False)
    with pytest.raises(BadInput, match="SERVE_USER"):
        host.account(None)


def test_a_named_user_is_served_and_an_unknown_one_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "root")
    assert host.account("nobody") == NOBODY
    with pytest.raises(BadInput, match="no-such-runner-user"):
        host.account("no-such-runner-user")


def test_a_user_who_is_not_root_sets_the_host_up_for_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: NOBODY.pw_uid)
    monkeypatch.setenv("SUDO_USER", "root")  # `sudo -u nobody` from root's shell
    assert host.account(None) == NOBODY


def test_only_root_sets_the_host_up_for_another_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: NOBODY.pw_uid + 1)
    with pytest.raises(host.HostError, match="only root"):
        host.install(tmp_path / "deploy", NOBODY)
    assert not (tmp_path / "deploy").exists()


def test_the_deploy_folder_is_in_the_served_users_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """Root's own home would be the wrong place: the runner's jobs look in their user's (RETRAIN_DEPLOY_DIR unset)."""
    monkeypatch.delenv("RETRAIN_DEPLOY_DIR", raising=False)
    assert deploy.home(NOBODY) == Path(NOBODY.pw_dir) / ".local/state/retrain"
    monkeypatch.setenv("RETRAIN_DEPLOY_DIR", "/srv/retrain")
    assert deploy.home(NOBODY) == Path("/srv/retrain")
