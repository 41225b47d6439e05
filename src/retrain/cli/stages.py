"""The six pipeline stages as `dvc repro` runs them: `retrain <stage>` (stage name = command = make target =
function name) runs `run(params, root)` of `retrain.pipeline.<stage>`, imported by name, so that what a stage
executes is its own module and that module's imports: exactly what dvc.yaml lists as its dependencies. Each stage's
wall time, CPU seconds and peak memory go to `<paths.usage>/<stage>.json` (what `retrain.cost` prices)."""

from __future__ import annotations

import contextlib
import importlib
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from retrain.cli import State, app, pass_state
from retrain.results import StageUsage

STAGES = ("validate", "featurize", "drift", "tune", "train", "evaluate")


def _cpu_seconds() -> float:
    """CPU time of this process since it started (imports included) and of the children it waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _started() -> float:
    """When this process started, on the clock of time.monotonic (Linux: /proc/self/stat, field 22, in clock ticks
    since boot), so that a stage's wall time includes starting Python and its imports; elsewhere, now."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return time.monotonic()
    return time.monotonic() - (time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK"))


def _peak_mib() -> float:
    """The largest resident set of this process or of any child it waited for (tuning workers)."""
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB on Linux


@contextlib.contextmanager
def _measured(folder: Path, stage: str) -> Iterator[None]:
    """Record the stage's wall time, CPU seconds and peak memory in `folder/<stage>.json` when it succeeds."""
    start = _started()
    yield
    usage = StageUsage(
        stage=stage,
        wall_seconds=round(time.monotonic() - start, 2),
        cpu_seconds=round(_cpu_seconds(), 2),
        peak_mib=round(_peak_mib(), 1),
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stage}.json").write_text(usage.model_dump_json())


def _run(stage: str, state: State, **options: Any) -> None:
    with _measured(state.params.paths.usage, stage):
        importlib.import_module(f"retrain.pipeline.{stage}").run(state.params, state.root, **options)


@app.command()
@pass_state
def validate(state: State) -> None:
    """Check every batch and side table against the data contract; write the validated batches."""
    _run("validate", state)


@app.command()
@pass_state
def featurize(state: State) -> None:
    """Join the side tables, label, split by time."""
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
