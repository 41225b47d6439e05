"""Past one machine: the dask engine against pandas at 3x, 20x and 100x the bundled flights; prints the tables of
the README's "Past one machine".

Data: every monthly batch resampled with replacement to the factor (bench.scaling.resample: flight numbers renumbered so
that the key stays unique, past 9,999: the domain is `bench.scaled`), in a committed copy of the repository. Each dask
run has a cluster of its own, real processes on loopback as the tests start them (`dask scheduler`, single-threaded
`dask worker`s without a nanny but malloc trimmed as one sets it, 4 GiB each), reached through $DASK_SCHEDULER_ADDRESS;
a worker's peak is its largest resident set over the run (VmHWM, asked of each worker at the end). A stage's own peak is
the largest process of `retrain <stage>` (wait4; the batches are resampled in a process of their own, since a child
reports the resident set of the process it was forked from as its own peak). Run with `make bench-scale` (about 15
minutes on 2 cores; BENCH_FACTORS="1 1 1" for a quick try); nothing here is a timed test.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.pipeline import repository, timed
from bench.scaling import resample
from retrain.io import files
from tests.support import ROOT, dask_cluster

FACTORS = tuple(int(factor) for factor in os.environ.get("BENCH_FACTORS", "3 20 100").split())
WORKER_MEMORY = "4GiB"
LIMIT = 1800  # seconds a measured command may take


def _peak_mib() -> float:
    """This process's largest resident set since it started its program (a worker's, when the scheduler runs it
    there): VmHWM, which exec resets, where getrusage's maxrss keeps that of the parent it was forked from."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tolerant(measure: Any, *args: Any) -> Any:
    """`measure(*args)`, or why it failed (a process killed for memory, say): the other figures still print."""
    try:
        return measure(*args)
    except SystemExit as failure:
        return str(failure).splitlines()[-1][:200] if str(failure) else "failed"


def _set(repo: Path, env: dict[str, str], *pairs: str) -> None:
    subprocess.run(["retrain", "set-params", *pairs], cwd=repo, env=env, check=True, capture_output=True)


def on_cluster(repo: Path, env: dict[str, str], stage: str, workers: int = 2) -> tuple[float, int, float]:
    """(wall seconds, the stage's peak MiB, the largest worker's peak MiB) of `retrain <stage>` with engine dask."""
    from distributed import Client

    with (
        tempfile.TemporaryDirectory(prefix="dask-", dir=repo.parent) as folder,
        dask_cluster(Path(folder), workers=workers, memory=WORKER_MEMORY) as started,
    ):
        seconds, peak = timed(["retrain", stage], repo, env | {"DASK_SCHEDULER_ADDRESS": started.address}, LIMIT)
        with Client(started.address) as client:
            worker = max(client.run(_peak_mib).values())
    return seconds, peak, worker


def resample_landing(originals: Path, landing: Path, factor: int) -> None:
    """The bundled batches in `originals`, resampled to `factor` times their rows, as the batches in `landing` (run in
    a process of its own: a process forked from one that held the data reports that size as its own peak)."""
    for path in sorted(originals.glob("*.parquet")):
        files.write_frame(resample(files.read_frame(path), factor), landing / path.name)


def size(repo: Path, env: dict[str, str], originals: Path, factor: int, which: int) -> dict[str, Any]:
    """Every figure of one data size (`which` of FACTORS: the middle one compares the fits, the last runs every
    stage)."""
    resample = ["-m", "bench.scale", "--resample", str(originals), str(repo / "data/landing"), str(factor)]
    subprocess.run([sys.executable, *resample], cwd=ROOT, check=True)
    figures: dict[str, Any] = {"factor": factor}
    _set(repo, env, "engine=local")
    figures["validate_local"] = timed(["retrain", "validate"], repo, env)
    figures["featurize_local"] = timed(["retrain", "featurize"], repo, env)
    local = {path: files.md5(repo / path) for path in ("data/features/train.parquet", "data/features/test.parquet")}
    _set(repo, env, "engine=dask")
    figures["validate_dask"] = on_cluster(repo, env, "validate")
    figures["featurize_dask"] = on_cluster(repo, env, "featurize")
    dask = {path: files.md5(repo / path) for path in local}
    figures["same_tables"] = dask == local
    figures["validated"] = sum(batch["rows"] for batch in files.read_json(repo / "reports/validation.json")["batches"])
    if which == 1:
        figures["featurize_one_worker"] = on_cluster(repo, env, "featurize", workers=1)
        figures["fits"] = fits(repo, env)
    if which == len(FACTORS) - 1:
        figures["stages"] = {
            stage: _tolerant(on_cluster, repo, env, stage) for stage in ("drift", "tune", "train", "evaluate")
        }
        _set(repo, env, "engine=local", "train.estimator=hist_gradient_boosting")
        figures["hist_gradient_boosting"] = _tolerant(timed, ["retrain", "train"], repo, env, LIMIT)
    return figures


def fits(repo: Path, env: dict[str, str]) -> dict[str, dict[str, float]]:
    """XGBoost fitted in one process and on the cluster, each scored on the test window."""
    metrics = {}
    for engine in ("local", "dask"):
        _set(repo, env, f"engine={engine}")
        for stage in ("train", "evaluate"):
            if engine == "dask":
                on_cluster(repo, env, stage)
            else:
                timed(["retrain", stage], repo, env)
        metrics[engine] = json.loads((repo / "metrics/metrics.json").read_text())
    return metrics


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="retrain-scale-") as base:
        repo, env = repository(Path(base))
        env |= {"MLFLOW_TRACKING_URI": f"sqlite:///{Path(base) / 'mlflow.db'}", "PYTHONPATH": str(ROOT)}
        _set(repo, env, "train.estimator=xgboost", "domain.module=bench.scaled")
        originals = Path(base) / "originals"
        shutil.copytree(repo / "data/landing", originals, ignore=shutil.ignore_patterns("*.dvc", ".gitignore"))
        results = []
        for which, factor in enumerate(FACTORS):
            results.append(size(repo, env, originals, factor, which))
            print(json.dumps(results[-1], default=str), file=sys.stderr, flush=True)  # as each size ends
    report(results)


def report(results: list[dict[str, Any]]) -> None:
    cores = os.cpu_count() or 1
    print(f"Past one machine: pandas against a Dask cluster of 2 single-threaded workers ({cores} cores)\n")
    print(
        "| data | flights | validate pandas | validate dask | featurize pandas | featurize dask "
        "| rows/s/core dask : pandas | worker peak (validate, featurize) | same tables |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for figures in results:
        rows = figures["validated"]
        (vl, vlp), (vd, _, vdw) = figures["validate_local"], figures["validate_dask"]
        (fl, flp), (fd, _, fdw) = figures["featurize_local"], figures["featurize_dask"]
        ratio = (rows / fd / 2) / (rows / fl)
        print(
            f"| {figures['factor']}x | {rows:,} | {vl:.0f} s, {vlp:,} MiB | {vd:.0f} s | {fl:.0f} s, {flp:,} MiB "
            f"| {fd:.0f} s | {ratio:.2f} | {vdw:,.0f}, {fdw:,.0f} MiB | {figures['same_tables']} |"
        )
    twenty = results[1]
    one, two = twenty["featurize_one_worker"][0], twenty["featurize_dask"][0]
    print(f"\nfeaturize at {twenty['factor']}x: 1 worker {one:.0f} s, 2 workers {two:.0f} s ({one / two:.2f}x)\n")
    fitted = twenty["fits"]
    print(
        f"XGBoost at {twenty['factor']}x, fitted in one process and on the cluster\n\n"
        "| fit | roc_auc | pr_auc | log_loss |\n|---|---|---|---|"
    )
    for engine, metrics in fitted.items():
        print(f"| {engine} | {metrics['roc_auc']:.4f} | {metrics['pr_auc']:.4f} | {metrics['log_loss']:.4f} |")
    hundred = results[-1]
    print(f"\n`dvc repro` at {hundred['factor']}x with engine dask and XGBoost, stage by stage\n")
    print("| stage | wall | stage's peak | largest worker's peak |\n|---|---|---|---|")
    stages = {"validate": hundred["validate_dask"], "featurize": hundred["featurize_dask"], **hundred["stages"]}
    for stage, measured in stages.items():
        if isinstance(measured, str):
            print(f"| {stage} | failed: {measured} | | |")
            continue
        seconds, peak, worker = measured
        print(f"| {stage} | {seconds:.0f} s | {peak:,} MiB | {worker:,.0f} MiB |")
    measured = hundred["hist_gradient_boosting"]
    taken = f"{measured[0]:.0f} s, {measured[1]:,} MiB" if isinstance(measured, tuple) else f"failed: {measured}"
    print(f"\nhist_gradient_boosting trained in one process at {hundred['factor']}x: {taken}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--resample"]:
        resample_landing(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
