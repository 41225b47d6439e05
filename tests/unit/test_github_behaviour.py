"""What GitHub does that `act` does not show, checked on the workflow files and the Makefile they call."""

from __future__ import annotations

import re

from tests.support import ROOT

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
