"""`retrain github ...`: what the workflows ask of GitHub, through its REST API with the job's own token (no App, no
PAT, no `gh`): the retrain PR, commit statuses, workflow dispatches (the events a GITHUB_TOKEN may start), and the
alert issues."""

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
@click.argument("branch")
@pass_state
def fetch(state: State, branch: str) -> None:
    """Fetch origin's BRANCH into origin/BRANCH with the job's token ($GITHUB_TOKEN), which checkouts with
    `persist-credentials: false` do not keep: a private repository refuses a fetch without it."""
    from retrain.io import vcs

    vcs.fetch(state.root, branch)


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

    GitHub.from_environment().dispatch(workflow, ref, _pairs(inputs, "--input"))


@github.command()
@click.argument("label")
@click.argument("body", type=click.Path(exists=True, dir_okay=False))
def issue(label: str, body: str) -> None:
    """The open issue labelled LABEL (one of the loop's labels) gets the file BODY as a comment, or is opened with it
    (its title: BODY's first line without the heading marks). The label is made first. Prints the URL."""
    from pathlib import Path

    from retrain.io.github import GitHub
    from retrain.release.repository import LABELS

    if label not in LABELS:
        raise click.BadParameter(f"one of {', '.join(LABELS)}", param_hint="LABEL")
    text = Path(body).read_text()
    title = text.splitlines()[0].lstrip("#").strip() if text.strip() else label
    client = GitHub.from_environment()
    client.label(label, *LABELS[label])
    click.echo(client.raise_issue(label, title, text))


@github.command()
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="a repository variable to set")
@pass_state
def setup(state: State, variables: tuple[str, ...]) -> None:
    """Configure the repository through GitHub's REST API as the README's set-up table says: Actions and every
    workflow enabled, PRs by workflows allowed, the labels, the environments `retrain` and `production` (branch
    `main`), `main` protected requiring `test` and `gate` from any source, and the variables given. Needs a token
    with admin rights: `gh auth login`, or GITHUB_TOKEN."""
    from retrain.io.github import GitHub
    from retrain.release import repository

    repo = repository.Repository(GitHub.for_checkout(state.root), _pairs(variables, "--var"))
    repository.setup(repo, click.echo)


@github.command()
@pass_state
def doctor(state: State) -> None:
    """Read every setting back, and what the configured features need (secrets by name, the DVC remote holding what
    dvc.lock names, the MLflow server, the serving runner): one line per missing or wrong setting with its page;
    exit 1 when any is missing, 0 when the repository is ready (warnings do not fail)."""
    from retrain.io.github import GitHub
    from retrain.release import repository

    repo = repository.Repository(GitHub.for_checkout(state.root))
    findings = repository.doctor(repo, state.root)
    for finding in findings:
        click.echo(finding.line())
    missing = [finding for finding in findings if not finding.warning]
    click.echo(f"doctor: {len(missing)} missing, {len(findings) - len(missing)} warnings: {repo.page('')}")
    if missing:
        raise SystemExit(1)


@github.command()
def table() -> None:
    """Print the README's table of the settings setup makes, as steps by hand (from the list setup uses)."""
    from retrain.release import repository

    click.echo(repository.manual_table(), nl=False)


def _pairs(items: tuple[str, ...], option: str) -> dict[str, str]:
    pairs = [item.partition("=") for item in items]
    if any(not sep or not key for key, sep, _ in pairs):
        raise click.BadParameter("each is KEY=VALUE", param_hint=option)
    return {key: value for key, _, value in pairs}


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
