"""The locks agree with each other, and `make setup` installs the DVC plugin that the remote's URL scheme needs."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib

import pytest

from tests.support import ROOT


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return {match[1].lower(): match[2] for match in re.finditer(r"^([A-Za-z0-9_.\[\]-]+)==(\S+)", text, re.MULTILINE)}


def test_every_lock_pins_the_runtime_packages_at_the_same_version() -> None:
    """A remote plugin installed over requirements.lock, or the dev tools, never change a runtime package."""
    runtime = _pins("requirements.lock")
    for other in ("requirements-remotes.lock", "requirements-dev.lock"):
        pins = _pins(other)
        assert {name: pins.get(name) for name in runtime} == runtime, other


def test_each_remote_extra_is_pinned_by_the_remotes_lock() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    remotes = _pins("requirements-remotes.lock")
    for scheme in ("s3", "gs", "azure", "ssh"):
        (requirement,) = extras[scheme]
        name, version = requirement.split("==")
        assert remotes[name] == version


@pytest.mark.parametrize(
    ("url", "plugin"), [("s3://bucket/dvc", "dvc-s3"), ("gs://bucket/dvc", "dvc-gs"), ("/srv/dvc", None)]
)
def test_make_setup_installs_the_plugin_of_the_remote_scheme(url: str, plugin: str | None) -> None:
    env = dict(os.environ, DVC_REMOTE_URL=url)
    result = subprocess.run(
        ["make", "-n", "setup", "LOCKS="], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    installs = re.findall(r"-c requirements-remotes.lock \"(dvc-\w+)\"", result.stdout)
    assert installs == ([plugin] if plugin else [])
