"""The six pipeline stages as `dvc repro` runs them: `retrain <stage>` (stage name = command = make target =
function name) runs `run(params, root)` of `retrain.pipeline.<stage>`, imported by name, so that what a stage
executes is its own module and that module's imports: exactly what dvc.yaml lists as its dependencies."""

from __future__ import annotations

import importlib
from typing import Any

import click

from retrain.cli import State, app, pass_state

STAGES = ("validate", "featurize", "drift", "tune", "train", "evaluate")


def _run(stage: str, state: State, **options: Any) -> None:
    importlib.import_module(f"retrain.pipeline.{stage}").run(state.params, state.root, **options)


@app.command()
@pass_state
def validate(state: State) -> None:
    """Check every batch against the data contract; write the validated flights."""
    _run("validate", state)


@app.command()
@pass_state
def featurize(state: State) -> None:
    """Clean, join the weather, label, split by time."""
    _run("featurize", state)


@app.command()
@pass_state
def drift(state: State) -> None:
    """The newest batch against the training window, per feature; JSON and a PNG for the report."""
    _run("drift", state)


@app.command()
@click.option("--workers", type=click.IntRange(min=1), help="worker processes on one study (default: tune.workers)")
@pass_state
def tune(state: State, workers: int | None) -> None:
    """Search the hyperparameters with Optuna (when tune.enabled) and write the ones train uses."""
    _run("tune", state, workers=workers)


@app.command()
@pass_state
def train(state: State) -> None:
    """Fit the Pipeline (with the tuned values, if any) and save it with skops, metadata beside it."""
    _run("train", state)


@app.command()
@pass_state
def evaluate(state: State) -> None:
    """Metrics, slices and plots on the test window; log the model and all of it to MLflow."""
    _run("evaluate", state)
