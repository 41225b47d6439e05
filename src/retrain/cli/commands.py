"""Every command that is not a pipeline stage: each parses its options, calls the room that owns it, and prints.

Each command imports its room when it runs (the foundations, which `retrain.cli` loads anyway, excepted): `retrain
gate` or `retrain set-params` then loads neither matplotlib, scipy nor MLflow, and a stage (cli/stages.py) loads only
its own module. Every command started in about 2.6 s when this module imported all the rooms; a light one now starts
in under 1 s (most of it pandas and pydantic)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import click

from retrain.cli import EXIT_BLOCKED, EXIT_OK, State, app, pass_state
from retrain.errors import BadInput
from retrain.params import override
from retrain.results import Decision

log = logging.getLogger("retrain")
TARGETS = ("local", "bentocloud", "container")  # where `retrain deploy` sends a Bento (retrain.release.deploy.run)
BASE = click.option("--base", help="git ref of the champion (default: compare.base in params.yaml)")
PUSH = click.option(
    "--push/--no-push",
    default=True,
    envvar="DVC_PUSH",
    show_default=True,
    help="push what it made to the DVC remote, if there is one (default from $DVC_PUSH: a PR job sets false)",
)


@app.command()
@pass_state
def name(state: State) -> None:
    """Print the model's name: the domain's, which names the service and its Bento (`make bento` builds NAME:commit)."""
    from retrain.domain import load_domain

    click.echo(load_domain(state.params).bento)


@app.command()
@click.argument("batches", nargs=-1, type=click.Path(path_type=Path))
@click.option("--side", "sides", multiple=True, type=click.Path(path_type=Path), help="a side table, <name>.parquet")
@pass_state
def adopt(state: State, batches: tuple[Path, ...], sides: tuple[Path, ...]) -> None:
    """Start over on your own data (README: Bring your own data): retire the example's data pointers, dvc.lock and
    outputs in a commit, land BATCHES (files named for their period) and the side tables, train a first model."""
    from retrain.domain import adopt as adopting

    adopting.adopt(state.params, state.root, list(batches), list(sides))


@app.command("new-batch")
@click.argument("period")
@pass_state
def new_batch(state: State, period: str) -> None:
    """Simulate the arrival of a batch from the domain's bundled data (PERIOD names it: YYYY-MM for a month,
    YYYY-MM-DD for a day, YYYY-Www for a week): write the batch and track it with DVC."""
    from retrain.domain import bundled

    bundled.new_batch(state.params, state.root, period)


@app.command()
@PUSH
@pass_state
def bootstrap(state: State, push: bool) -> None:
    """Recreate, byte for byte, the bundled data the committed pointers name that is not here (`make data` pulls
    what the DVC remote holds first), and push it to the remote."""
    from retrain.domain import bundled

    bundled.bootstrap(state.params, state.root, push)


@app.command("set-params")
@click.argument("assignments", nargs=-1, metavar="KEY=VALUE...")
@pass_state
def set_params(state: State, assignments: tuple[str, ...]) -> None:
    """Override params.yaml keys in place (values in YAML syntax, e.g. train.seed=7), also from $RETRAIN_PARAMS."""
    state.params  # noqa: B018  (the file must be valid before it is changed)
    changes = override(state.path, list(assignments))
    log.info("set-params: %s", ", ".join(f"{k}={v!r}" for k, v in changes.items()) or "nothing to change")


@app.command("lock-check")
@pass_state
def lock_check(state: State) -> None:
    """Fail (exit 2), naming the stage and the file or param, when dvc.lock does not describe the code and params.
    Needs no data and no retrain: new data ahead of its retrain is the normal state of the loop."""
    from retrain.io import vcs

    stale = vcs.stale_code(state.root)
    for line in stale:
        log.error("lock-check: %s", line)
    if stale:
        raise BadInput(f"dvc.lock is not current ({len(stale)} change(s) above): run `dvc repro`, commit dvc.lock")
    click.echo("lock-check: dvc.lock describes the committed code and params")


@app.command()
@BASE
@PUSH
@pass_state
def compare(state: State, base: str | None, push: bool) -> int:
    """Champion (the model dvc.lock names at BASE) against the working tree's model. Exit 3 if the gate blocks.
    A champion that no DVC cache or remote holds is rebuilt from its commit (and pushed)."""
    from retrain.decision import compare as comparison

    decision = comparison.compare(state.params, state.root, base or state.params.compare.base, push)
    return EXIT_OK if decision.promote else EXIT_BLOCKED


@app.command()
@pass_state
def gate(state: State) -> int:
    """Exit 3 if the last `retrain compare` blocked (so a workflow fails its check after posting the report)."""
    decision = Decision.read(state.params.paths.decision)
    click.echo(f"gate: {'promote' if decision.promote else 'BLOCKED'}: {'; '.join(decision.reasons)}")
    return EXIT_OK if decision.promote else EXIT_BLOCKED


@app.command()
@pass_state
def unchanged(state: State) -> int:
    """Exit 0 if the last `retrain compare` found the challenger to be the champion (the same model bytes): there is
    nothing to propose; exit 3 otherwise."""
    decision = Decision.read(state.params.paths.decision)
    same = decision.champion.model_md5 == decision.challenger.model_md5
    click.echo(f"unchanged: the challenger {'is' if same else 'is not'} the champion ({decision.challenger.model_md5})")
    return EXIT_OK if same else EXIT_BLOCKED


@app.command()
@BASE
@pass_state
def report(state: State, base: str | None) -> None:
    """Render reports/report.md (for CML) from the decision of `retrain compare`, and print the verdict."""
    from retrain.decision import report as reports

    decision = reports.write(state.params, state.root, base or state.params.compare.base, os.environ)
    click.echo(f"{'PROMOTE' if decision.promote else 'BLOCK'}: {'; '.join(decision.reasons)}")
    figures = len(list(state.params.paths.report.parent.glob("*.png")))
    click.echo(f"report    {state.params.paths.report} (+ {figures} PNGs beside it)")


@app.command()
@pass_state
def summary(state: State) -> None:
    """Print the headline metrics and where the outputs are."""
    from retrain.decision import report as reports

    click.echo("\n".join(reports.summary(state.params)))


@app.command()
@click.option("--now", help="evaluate as of this ISO time (default: now), e.g. to replay a log")
@pass_state
def monitor(state: State, now: str | None) -> None:
    """Decide whether to retrain from the inference log and late labels: reports/monitor.json (and, in GitHub
    Actions, the step outputs `retrain` and `reason`, and a job summary)."""
    from retrain.monitoring import monitor as monitoring

    monitoring.run(state.params, state.root, now)


@app.command()
@click.option("--webhook", help="URL to POST the alert to (default: $RETRAIN_WEBHOOK_URL; only when retraining)")
@pass_state
def alert(state: State, webhook: str | None) -> None:
    """Render the alert for the last monitoring verdict (reports/alert.md); POST it to a webhook when retraining."""
    from retrain.monitoring import alert as alerts

    click.echo(alerts.title(alerts.alert(state.params, webhook, os.environ)))


@app.command()
@click.option("--bento", help="the Bento tag, NAME:1a2b3c4d5e6f (built by `make bento`)")
@click.option("--target", type=click.Choice(TARGETS), default="local", show_default=True)
@click.option("--previous", is_flag=True, help="local: redeploy the release that was live before")
@click.option("--stop", is_flag=True, help="local: stop the front and every release (supervisord stays)")
@click.option("--repair", is_flag=True, help="local: finish or undo what a killed deploy left")
@pass_state
def deploy(state: State, bento: str | None, target: str, previous: bool, stop: bool, repair: bool) -> None:
    """Deploy a Bento, after checking that it holds the model dvc.lock names, to TARGET."""
    from retrain.release import deploy as deployment

    click.echo(deployment.run(state.params, state.root, bento, target, previous, stop, repair))


@app.command()
@click.option("--once", is_flag=True, help="one check, then exit (the supervised program loops)")
@click.option("--report", is_flag=True, help="print the commit a health rollback took off; reports/health.md")
@click.option("--reported", is_flag=True, help="record the health rollbacks as reported (issue and PR made)")
@pass_state
def health(state: State, once: bool, report: bool, reported: bool) -> None:
    """Check the local target's live release regularly; roll back to the previous one after repeated failures."""
    from retrain.release import health as checks

    if report or reported:
        click.echo(checks.report(state.root / "reports", mark=reported))
        return
    checks.watch(state.params, once)


@app.command("serve-host")
@click.option("--user", help="the user the machine's runner runs as (root only; default: $SUDO_USER, else yourself)")
def serve_host(user: str | None) -> None:
    """Set this machine up to serve the local target, once: supervisord (its config, a systemd unit), started."""
    from retrain.release import deploy as deployment

    for line in deployment.serve_host(user):
        click.echo(line)


@app.command()
@click.option("--url", help="the service (default: http://127.0.0.1:<deploy.port>, the local target)")
@pass_state
def smoke(state: State, url: str | None) -> int:
    """Check that the service at URL serves exactly the model dvc.lock names (exit 3 if not)."""
    from retrain.release import smoke as smoke_test

    failures = smoke_test.run(state.params, state.root, url or f"http://127.0.0.1:{state.params.deploy.port}")
    return EXIT_BLOCKED if failures else EXIT_OK


@app.command()
@pass_state
def promote(state: State) -> None:
    """After a good deploy: move the MLflow alias `champion` to the model dvc.lock names; record the deployment."""
    from retrain.release import promote as promotion

    click.echo(promotion.promote(state.params, state.root))


@app.command()
@click.option("--ref", default="main", show_default=True, help="branch or ref")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a Markdown table")
@pass_state
def history(state: State, ref: str, as_json: bool) -> None:
    """Which model REF named when (promotions and rollbacks), from git and dvc.lock."""
    from retrain.release import history as audit

    paths = state.params.paths
    rows = audit.history(state.root, ref, paths.model, paths.metrics, paths.cost)
    click.echo(json.dumps(rows, indent=2) if as_json else audit.table(rows))
