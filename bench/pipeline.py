"""Benchmark the pipeline in a temporary copy of the repository and print a Markdown table.

Measures: a full `dvc repro` from a clean DVC cache and a fresh MLflow store, a no-op repro, a params-only retrain
(train + evaluate), peak memory, and the bare in-process fit + predict on the same data as the lower limit.
Run with `make bench`; the README's table is a copy of its output.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from retrain import params
from retrain.io import files
from retrain.pipeline import evaluate, train
from tests.support import copy_repository, environment

ROOT = Path(__file__).resolve().parents[1]

REPEATS = 3


def timed(command: list[str], cwd: Path, env: dict[str, str], limit: float | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB, largest process of the tree) of one command; one still running after `limit`
    seconds is killed and fails (bench/scale.py: a worker out of memory, with no nanny to restart it, waits forever)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        pid, status, usage = os.wait4(process.pid, 0 if limit is None else os.WNOHANG)
        if pid:
            break
        if limit is not None and time.perf_counter() - start > limit:
            process.kill()
            os.wait4(process.pid, 0)
            raise SystemExit(f"{' '.join(command)} failed: still running after {limit:.0f} s")
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    if status:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode() if process.stderr else ''}")
    return seconds, usage.ru_maxrss // 1024


def bare(repo: Path) -> float:
    """Fit + predict in this process, on the files the pipeline wrote: the work no pipeline can avoid."""
    settings = params.load(repo / "params.yaml")
    frame, test = files.read_frame(repo / settings.paths.train), files.read_frame(repo / settings.paths.test)
    start = time.perf_counter()
    model = train.train(frame, settings.train)
    evaluate.predict(model, test)
    return time.perf_counter() - start


def repository(base: Path) -> tuple[Path, dict[str, str]]:
    """A committed copy of the repository under `base`, with the bundled batches; and the environment to run in."""
    home = base / "home"
    home.mkdir(parents=True)
    repo = copy_repository(base / "repo")
    env = environment(home)
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "bench"]):
        subprocess.run(command, cwd=repo, env=env, check=True)
    subprocess.run(["retrain", "bootstrap"], cwd=repo, env=env, check=True, capture_output=True)
    return repo, env


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="retrain-bench-") as base:
        repo, env = repository(Path(base))
        home = Path(base) / "home"

        full, noop, retrain_params, peak = [], [], [], 0
        for _ in range(REPEATS):
            shutil.rmtree(repo / ".dvc/cache", ignore_errors=True)
            for output in ("models", "data/features", "data/validated", "metrics", "mlflow.db", "mlartifacts"):
                shutil.rmtree(repo / output, ignore_errors=True)
            (home / "mlflow.db").unlink(missing_ok=True)
            seconds, rss = timed(["dvc", "repro", "--force"], repo, env)
            full.append(seconds)
            peak = max(peak, rss)
        for _ in range(REPEATS):
            noop.append(timed(["dvc", "repro"], repo, env)[0])
        for attempt in range(REPEATS):
            settings = yaml.safe_load((repo / "params.yaml").read_text())
            settings["train"]["hyperparameters"]["hist_gradient_boosting"]["learning_rate"] = 0.1 + 0.001 * (
                attempt + 1
            )
            (repo / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
            seconds, rss = timed(["dvc", "repro"], repo, env)
            retrain_params.append(seconds)
            peak = max(peak, rss)
        compute = statistics.median(bare(repo) for _ in range(REPEATS))

    median = statistics.median
    rows = [
        ("full `dvc repro`, clean cache, fresh MLflow store", f"{median(full):.1f} s", "<= 30 s"),
        ("no-op `dvc repro`", f"{median(noop):.2f} s", "<= 2 s"),
        ("params-only retrain (tune, off; train; evaluate)", f"{median(retrain_params):.1f} s", ""),
        ("peak memory (largest process)", f"{peak} MiB", ""),
        ("bare fit + predict in process (lower limit)", f"{compute:.1f} s", ""),
        ("full pipeline / bare compute", f"{median(full) / compute:.1f}x", "<= 3x"),
    ]
    print(f"Pipeline on months 1-6 (median of {REPEATS}; {os.cpu_count()} cores)\n")
    print("| measure | value | target |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
