"""The retrain PR: one open pull request per base, from the branch `retrain/<base>`, holding one commit of the
retrain's outputs on top of the base. A later retrain replaces its content (a force-push with a lease) and keeps the
PR, its review and its report comment.

The PR is found by its exact head (`owner:retrain/<base>`) and base over every page, never by a suffix of the branch
name (CML 0.20.6's `pr create` takes the first of 30 open PRs whose head ends with it: a contributor's PR from a fork
branch named `main` then got the report). When the base changed a workflow file since the branch was pushed, GitHub
refuses the force-push to a GITHUB_TOKEN (it never has the `workflows` permission): the old PR is closed with a link,
the branch pushed anew on the base, and a new PR opened, so exactly one retrain PR stays open."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from retrain.errors import BadInput
from retrain.io import vcs
from retrain.io.github import GitHub

log = logging.getLogger(__name__)
SKIP_MARKERS = re.compile(r"\[(skip ci|ci skip|no ci|skip actions|actions skip)\]", re.IGNORECASE)


@dataclass(frozen=True)
class Proposal:
    number: int
    url: str
    commit: str
    branch: str
    superseded: int | None  # the retrain PR this one replaced, closed


def title(reason: str) -> str:
    """`Retrain: <reason>` on one line. GitHub starts no workflow for a head commit whose message has a skip marker
    (and a squash merge carries it to the base), so the markers are taken out of the reason."""
    return f"Retrain: {' '.join(SKIP_MARKERS.sub(' ', reason).split()) or 'manual'}"


def propose(
    root: Path, github: GitHub, base: str, paths: list[str], body: str, reason: str = "", branch: str = ""
) -> Proposal:
    """Push a branch (`retrain/<base>` unless named) holding the base and one commit, and find or open its PR: with
    `paths`, the commit of those files on top of the base, titled from `reason`; without, HEAD, a commit on the
    base (a revert), titled by its subject."""
    target = base.removeprefix("origin/")
    tip = vcs.commit(root, f"refs/remotes/origin/{target}")
    if tip is None:
        raise BadInput(f"base {target!r} is not a branch of origin: a PR needs a branch to merge into")
    branch = branch or f"retrain/{target}"
    if paths:
        if not vcs.is_ancestor(root, "HEAD", tip):
            raise BadInput(f"the checkout holds commits that {target} does not: check out {target} to retrain it")
        message = title(reason)
        commit = vcs.commit_files(root, tip, paths, message)
    else:
        commit, message = vcs.commit(root) or "", vcs.subject(root)
        if vcs.commit(root, "HEAD^") != tip:
            raise BadInput(f"HEAD is not one commit on top of {target}: nothing to propose")
    open_ = github.pulls(branch, target)
    superseded = None
    try:
        vcs.push(root, commit, branch)
    except vcs.PushRefused as refused:
        log.warning("%s", refused)
        vcs.delete_branch(root, branch)  # GitHub closes a PR whose head branch is deleted; ours is closed below
        vcs.push(root, commit, branch)
        superseded, open_ = (open_[0]["number"] if open_ else None), []
    pull = open_[0] if open_ else github.open_pull(branch, target, message, body)
    if superseded is not None:
        github.close_pull(
            superseded,
            f"Superseded by #{pull['number']}: `{target}` changed a workflow file since `{branch}` was pushed, and "
            "GitHub refuses a workflow token an update of a branch across such a change, so the branch was pushed "
            "anew on the base.",
        )
    log.info("PR #%s: %s (%s at %s)", pull["number"], pull["html_url"], branch, commit[:12])
    return Proposal(pull["number"], pull["html_url"], commit, branch, superseded)
