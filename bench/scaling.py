"""How the pipeline grows with data, and how tuning scales with workers; prints two Markdown tables.

Data: every monthly batch resampled with replacement to 1x, 3x and 10x its rows (fixed seed), flight numbers
renumbered so the flight key stays unique; then a full `dvc repro` from a clean cache (tuning off), timed, with the
peak memory of the largest process. Tuning: a fixed number of trials whose cost does not depend on the sampled values
(fixed tree count, no early stopping, no pruning), with 1 and with 2 worker processes on a fresh SQLite study.
Run with `make bench`; the README's tables are copies of its output.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

from bench.pipeline import repository, timed
from retrain.domain.nycflights import schema
from retrain.io import files

ROOT = Path(__file__).resolve().parents[1]

FACTORS = (1, 3, 10)
TRIALS = 16
SEED = 2013


def resample(batch: pd.DataFrame, factor: int) -> pd.DataFrame:
    """`factor` times the rows, drawn with replacement; flight numbers renumbered per day, carrier and origin."""
    frame = batch.sample(n=len(batch) * factor, replace=True, random_state=SEED).reset_index(drop=True)
    day = [key for key in schema.FLIGHT_KEY if key != "flight"]
    frame["flight"] = frame.groupby(day).cumcount() + 1
    return frame.sort_values(["time_hour", *schema.FLIGHT_KEY]).reset_index(drop=True)


def growth(base: Path) -> list[tuple[int, int, float, int]]:
    """(factor, flights, seconds, peak MiB) of a full repro at each size."""
    repo, env = repository(base)
    originals = {path: files.read_frame(path) for path in sorted((repo / "data/landing").glob("*.parquet"))}
    rows = []
    for factor in FACTORS:
        for path, batch in originals.items():
            files.write_frame(resample(batch, factor), path)
        seconds, peak = timed(["dvc", "repro", "--force"], repo, env)
        flights = sum(len(batch) for batch in originals.values()) * factor
        rows.append((factor, flights, seconds, peak))
    return rows


def tuning(base: Path) -> list[tuple[int, str, float]]:
    """(workers, threads per worker, seconds) for TRIALS fixed-cost trials, each run on its own fresh study."""
    repo, env = repository(base)
    subprocess.run(["dvc", "repro", "featurize"], cwd=repo, env=env, check=True, capture_output=True)
    overrides = [
        "tune.enabled=true",
        f"tune.trials={TRIALS}",
        "tune.pruning=false",
        "tune.sampler=random",
        "train.hyperparameters.hist_gradient_boosting.early_stopping=false",
        "train.hyperparameters.hist_gradient_boosting.max_iter=100",
        "tune.space.hist_gradient_boosting="
        "{learning_rate: {low: 0.02, high: 0.3}, l2_regularization: {low: 0.0, high: 5.0}}",
    ]
    subprocess.run(["retrain", "set-params", *overrides], cwd=repo, env=env, check=True, capture_output=True)
    cores = os.cpu_count() or 1
    rows = []
    for workers, threads in ((1, 1), (2, 1), (1, cores)):
        subprocess.run(
            ["retrain", "set-params", f"tune.threads={threads}"], cwd=repo, env=env, check=True, capture_output=True
        )
        storage = f"sqlite:///{base / f'study-{workers}-{threads}.db'}"
        command = ["retrain", "tune", "--workers", str(workers)]
        rows.append((workers, str(threads), timed(command, repo, env | {"RETRAIN_TUNE_STORAGE": storage})[0]))
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="retrain-scaling-") as base:
        sizes = growth(Path(base) / "growth")
        workers = tuning(Path(base) / "tuning")
    _, _, one_seconds, one_peak = sizes[0]
    print(f"Growth: full `dvc repro` at 1x, 3x, 10x the flights ({os.cpu_count()} cores)\n")
    print("| data | flights | wall | per 1x | peak memory | per 1x |\n|---|---|---|---|---|---|")
    for factor, flights, seconds, peak in sizes:
        print(
            f"| {factor}x | {flights:,} | {seconds:.1f} s | {seconds / one_seconds / factor:.2f} "
            f"| {peak:,} MiB | {peak / one_peak / factor:.2f} |"
        )
    print("\n(per 1x: the ratio to 1x, divided by the data factor; <= 1 is linear or better)\n")
    print(f"Tuning: {TRIALS} fixed-cost trials on the 1x training window\n")
    print("| workers | threads each | wall | ratio to 1 worker, 1 thread | target |\n|---|---|---|---|---|")
    for count, threads, seconds in workers:
        target = "<= 0.6" if (count, threads) == (2, "1") else ""
        print(f"| {count} | {threads} | {seconds:.1f} s | {seconds / workers[0][2]:.2f} | {target} |")


if __name__ == "__main__":
    main()
