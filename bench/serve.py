"""Benchmark the BentoML service against `mlflow models serve` of the same model, and print a Markdown table.

One worker each, OMP_NUM_THREADS=1, the same load client (bench/load.py) on the same machine: single-record
requests at concurrency 16, and 100-record requests at concurrency 4. The in-process Pipeline rate is the limit.
Needs the model that `make repro` leaves in models/.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from bench.load import Result, load
from retrain import tracking
from retrain.domain import schema
from retrain.io import files, modelfile

ROOT = Path(__file__).resolve().parents[1]

SECONDS = 10


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(command: list[str], ready: str, env: dict[str, str]) -> Iterator[None]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(ready, timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{command[0]} did not start") from None
            time.sleep(0.5)
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def in_process(model: object, rows: pd.DataFrame) -> float:
    """Rows per second of predict_proba in this process, for one row and for 100 rows per call."""
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < 3:
        model.predict_proba(rows)  # type: ignore[attr-defined]
        calls += 1
    return calls * len(rows) / (time.perf_counter() - start)


def main() -> None:
    test = files.read_frame(ROOT / "data/features/test.parquet")
    records = json.loads(test[[*schema.FEATURES]].head(100).to_json(orient="records"))
    model = modelfile.load(ROOT / "models/model.skops")
    env = dict(os.environ, OMP_NUM_THREADS="1", BENTOML_DO_NOT_TRACK="true", MLFLOW_DISABLE_TELEMETRY="true")
    results: dict[str, tuple[Result, Result]] = {}
    with tempfile.TemporaryDirectory(prefix="retrain-bench-serve-") as scratch:
        env |= {
            "BENTOML_HOME": f"{scratch}/bentoml",
            "RETRAIN_ROOT": str(ROOT),
            "MLFLOW_TRACKING_URI": f"sqlite:///{scratch}/mlflow.db",
        }
        os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
        run_id = tracking.log_run(
            Path(scratch),
            "bench",
            model,
            test[list(schema.FEATURES)].head(5),
            {},
            {},
            {"model_md5": files.md5(ROOT / "models/model.skops")},
        )
        import mlflow

        model_uri = mlflow.get_run(run_id).data.tags["model_uri"]
        servers = {
            "BentoML service (this repo)": (
                ["bentoml", "serve", "retrain.serving.service:FlightDelayService", "--port", str(port := _port())],
                f"http://127.0.0.1:{port}/readyz",
                f"http://127.0.0.1:{port}/predict",
                lambda rows: json.dumps({"records": rows}).encode(),
            ),
            "mlflow models serve": (
                [
                    "mlflow",
                    "models",
                    "serve",
                    "-m",
                    model_uri,
                    "--env-manager",
                    "local",
                    "--workers",
                    "1",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(other := _port()),
                ],
                f"http://127.0.0.1:{other}/health",
                f"http://127.0.0.1:{other}/invocations",
                lambda rows: json.dumps({"dataframe_records": rows}).encode(),
            ),
        }
        for name, (command, ready, url, body) in servers.items():
            with running(command, ready, env):
                load(url, body(records[:1]), 4, 2)  # warm up
                results[name] = (load(url, body(records[:1]), 16, SECONDS), load(url, body(records), 4, SECONDS))
    one, hundred = (
        in_process(model, test[list(schema.FEATURES)].head(1)),
        in_process(model, test[list(schema.FEATURES)].head(100)),
    )

    print(f"Serving, 1 worker each, OMP_NUM_THREADS=1, {SECONDS} s per load, client on the same 2 cores\n")
    print("| server | load | requests/s | rows/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|")
    for name, (single, batch) in results.items():
        for label, result, rows in (("1 record, 16 clients", single, 1), ("100 records, 4 clients", batch, 100)):
            p50, p99 = result.percentile(50) * 1000, result.percentile(99) * 1000
            cells = [name, label, f"{result.rate:.0f}", f"{result.rate * rows:,.0f}", f"{p50:.0f}", f"{p99:.0f}"]
            print("| " + " | ".join([*cells, str(result.errors)]) + " |")
    print(f"| in-process `predict_proba` (limit) | 1 row per call | {one:.0f} | {one:,.0f} | | | |")
    print(f"| in-process `predict_proba` (limit) | 100 rows per call | {hundred / 100:.0f} | {hundred:,.0f} | | | |")
    ours, theirs = (result[0].rate for result in results.values())
    print(
        f"\nSingle-record throughput, BentoML service / mlflow: {ours / theirs:.1f}x (target >= 3x); "
        f"p99 target < 100 ms at 16 clients."
    )


if __name__ == "__main__":
    main()
