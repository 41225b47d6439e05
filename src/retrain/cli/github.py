"""`retrain github ...`: what the workflows ask of GitHub, through its REST API with the job's own token (no App, no
PAT, no `gh`): the retrain PR, commit statuses, and workflow dispatches (the events a GITHUB_TOKEN may start)."""

from __future__ import annotations

import click

from retrain.cli import State, app, pass_state


@app.group()
def github() -> None:
    """GitHub's REST API for the workflows: GITHUB_REPOSITORY, GITHUB_API_URL and GITHUB_TOKEN (else GH_TOKEN)."""


@github.command()
@click.option("--base", required=True, help="the branch the PR merges into (origin/<base> must exist)")
@click.option("--branch", default="", help="the PR's branch (default: retrain/<base>)")
@click.option("--reason", default="manual", show_default=True, help="why it retrained: the commit message and title")
@click.option("--body", default="", help="the PR's description")
@click.argument("paths", nargs=-1)
@pass_state
def propose(state: State, base: str, branch: str, reason: str, body: str, paths: tuple[str, ...]) -> None:
    """Push PATHS committed on top of BASE (or, with no PATHS, HEAD: one commit on BASE) to a branch, and find
    (exact head, every page) or open its PR. Prints `<number> <url> <commit> <branch>`."""
    from retrain.io.github import GitHub
    from retrain.release.propose import propose as propose_

    made = propose_(state.root, GitHub.from_environment(), base, list(paths), body, reason, branch)
    click.echo(f"{made.number} {made.url} {made.commit} {made.branch}")


@github.command()
@click.argument("context")
@click.argument("status", metavar="STATE", type=click.Choice(["error", "failure", "pending", "success"]))
@click.option("--sha", required=True, help="the commit")
@click.option("--description", default="", help="one line (GitHub keeps 140 characters)")
@click.option("--url", default="", help="where the details are (the run, the PR)")
def status(context: str, status: str, sha: str, description: str, url: str) -> None:
    """Post the commit status CONTEXT on a commit: what a required check of that name accepts."""
    from retrain.io.github import GitHub

    GitHub.from_environment().status(sha, context, status, description, url)


@github.command()
@click.argument("workflow")
@click.option("--ref", required=True, help="the branch to run it on")
@click.option("--input", "inputs", multiple=True, metavar="KEY=VALUE", help="a workflow_dispatch input")
def dispatch(workflow: str, ref: str, inputs: tuple[str, ...]) -> None:
    """Start WORKFLOW (its file name, e.g. ci.yml) on REF with workflow_dispatch."""
    from retrain.io.github import GitHub

    pairs = [item.partition("=") for item in inputs]
    if any(not sep for _, sep, _ in pairs):
        raise click.BadParameter("each --input is KEY=VALUE", param_hint="--input")
    GitHub.from_environment().dispatch(workflow, ref, {key: value for key, _, value in pairs})


@github.command()
@click.argument("repository")
@click.argument("tag")
@click.argument("asset")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
def download(repository: str, tag: str, asset: str, target: str) -> None:
    """Install the release ASSET of REPOSITORY's TAG as the executable TARGET, with the job's token, checked against
    the sha256 digest the release API reports (e.g. iterative/cml v0.20.6 cml-linux-x64 .venv/bin/cml)."""
    from pathlib import Path

    from retrain.io.github import GitHub

    data = GitHub.from_environment().release_asset(repository, tag, asset)
    partial = Path(f"{target}.partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(target)
    click.echo(f"installed {repository} {tag} {asset} ({len(data):,} bytes, sha256 checked) as {target}")
