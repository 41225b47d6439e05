"""Benchmark the BentoML service against `mlflow models serve` of the same model under wrk, and print Markdown tables.

The same load generator for both (wrk, one thread, bench/wrk.lua), OMP_NUM_THREADS=1, on the same 2 cores: single
records at 16 and 64 clients and 100-record requests at 4 clients, with 1 and 2 workers. CPU per request is the
server's processes' CPU time over the run divided by the requests answered. Then a soak: this service at half the
capacity it showed, for SOAK seconds, its memory sampled throughout. The in-process Pipeline rate is the limit.
Needs the model that `make repro` leaves in models/.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from retrain import tracking
from retrain.domain import schema
from retrain.io import files, modelfile

ROOT = Path(__file__).resolve().parents[1]
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
SOAK = int(os.environ.get("BENCH_SOAK_SECONDS", "120"))
LOADS = ((1, 16), (1, 64), (100, 4))  # (records per request, clients)
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    socket_errors: int
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def shed(self) -> int:
        return self.statuses.get("503", 0)

    @property
    def errors(self) -> int:
        """Answers that are neither 200 nor a counted 503 shed, and requests that got no answer."""
        return sum(n for status, n in self.statuses.items() if status not in ("200", "503")) + self.socket_errors


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """The process and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(current := todo.pop())
        todo.extend(children.get(current, []))
    return found


def _stat(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and resident bytes of a process tree."""
    cpu, rss = 0.0, 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / TICKS
        rss += int(fields[21]) * PAGE
    return cpu, rss


@contextmanager
def running(command: list[str], ready: str, env: dict[str, str]) -> Iterator[int]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(ready, timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{' '.join(command)} did not start") from None
            time.sleep(0.5)
    try:
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(url: str, body: Path, clients: int, seconds: int, server: int, pause_ms: float = 0) -> Run:
    """One wrk run; the server's CPU time over it."""
    before, _ = _stat(server)
    command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(ROOT / "bench/wrk.lua")]
    out = subprocess.run([*command, url, "--", str(body), str(pause_ms)], capture_output=True, text=True, check=True)
    after, _ = _stat(server)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return Run(
        result["requests"],
        result["seconds"],
        result["p50_ms"],
        result["p99_ms"],
        result["statuses"],
        result["socket_errors"],
        after - before,
    )


def soak(url: str, body: Path, rate: float, server: int) -> tuple[Run, list[int]]:
    """About `rate` requests/s for SOAK seconds from 8 clients that pause between requests (the pause calibrated by
    a 5 s run); the server's resident memory sampled every 2 s."""
    pause = 8 / rate * 1000
    trial = wrk(url, body, 8, 5, server, pause_ms=pause)
    pause = max(pause - (8 / trial.rate - 8 / rate) * 1000, 0)  # what the answers themselves take
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(2):
            samples.append(_stat(server)[1])

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        run = wrk(url, body, 8, SOAK, server, pause_ms=pause)
    finally:
        stop.set()
        sampler.join()
    return run, samples


def in_process(model: object, rows: pd.DataFrame) -> float:
    """Rows per second of predict_proba in this process."""
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
    results: dict[tuple[str, int], list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="retrain-bench-serve-") as scratch:
        env |= {
            "BENTOML_HOME": f"{scratch}/bentoml",
            "RETRAIN_ROOT": str(ROOT),
            "MLFLOW_TRACKING_URI": f"sqlite:///{scratch}/mlflow.db",
        }
        os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
        run_id = tracking.log_run(
            Path(scratch), "bench", model, test[list(schema.FEATURES)].head(5), {}, {},
            {"model_md5": files.md5(ROOT / "models/model.skops")},
        )  # fmt: skip
        import mlflow

        model_uri = mlflow.get_run(run_id).data.tags["model_uri"]
        bodies = {}
        for rows in sorted({rows for rows, _ in LOADS}):
            for name, key in (("ours", "records"), ("mlflow", "dataframe_records")):
                bodies[name, rows] = Path(scratch) / f"{name}-{rows}.json"
                bodies[name, rows].write_text(json.dumps({key: records[:rows]}))

        def servers(workers: int) -> dict[str, tuple[list[str], str, str, str, dict[str, str]]]:
            port, other = _port(), _port()
            serve = ["bentoml", "serve", "retrain.serving.service:FlightDelayService", "--port", str(port)]
            mlflow_serve = ["mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local"]
            return {
                "this service (BentoML)": (
                    serve,
                    f"http://127.0.0.1:{port}/readyz",
                    f"http://127.0.0.1:{port}/predict",
                    "ours",
                    {"BENTOML_CONFIG_OPTIONS": f"services.flight_delay.workers={workers}"},
                ),
                "mlflow models serve": (
                    [*mlflow_serve, "--workers", str(workers), "-h", "127.0.0.1", "-p", str(other)],
                    f"http://127.0.0.1:{other}/health",
                    f"http://127.0.0.1:{other}/invocations",
                    "mlflow",
                    {},
                ),
            }

        soaked: tuple[Run, list[int]] | None = None
        for workers in (1, 2):
            for name, (command, ready, url, kind, extra) in servers(workers).items():
                with running(command, ready, env | extra) as pid:
                    wrk(url, bodies[kind, 1], 4, 2, pid)  # warm up
                    runs = results[name, workers] = [
                        wrk(url, bodies[kind, rows], clients, SECONDS, pid) for rows, clients in LOADS
                    ]
                    if name.startswith("this") and workers == 1 and SOAK:
                        soaked = soak(url, bodies[kind, 1], runs[0].rate / 2, pid)
    one, hundred = (
        in_process(model, test[list(schema.FEATURES)].head(1)),
        in_process(model, test[list(schema.FEATURES)].head(100)),
    )
    report(results, soaked, one, hundred)


def report(
    results: dict[tuple[str, int], list[Run]], soaked: tuple[Run, list[int]] | None, one: float, hundred: float
) -> None:
    print(f"Serving under wrk (1 thread), OMP_NUM_THREADS=1, {SECONDS} s per load, load and server on the same cores\n")
    print("| server | workers | load | requests/s | rows/s | p50 ms | p99 ms | errors | shed 503 | CPU ms/request |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (name, workers), runs in results.items():
        for (rows, clients), run in zip(LOADS, runs, strict=True):
            cpu = run.cpu_seconds * 1000 / max(run.requests, 1)
            cells = [name, str(workers), f"{rows} record{'s' * (rows > 1)}, {clients} clients", f"{run.rate:,.0f}"]
            cells += [f"{run.rate * rows:,.0f}", f"{run.p50_ms:.1f}", f"{run.p99_ms:.1f}", str(run.errors)]
            print("| " + " | ".join([*cells, str(run.shed), f"{cpu:.2f}"]) + " |")
    for label, rate, rows in (("1 row per call", one, 1), ("100 rows per call", hundred, 100)):
        print(f"| in-process `predict_proba` (limit) | | {label} | {rate / rows:,.0f} | {rate:,.0f} | | | | | |")
    for workers in (1, 2):
        ours, theirs = results["this service (BentoML)", workers], results["mlflow models serve", workers]
        ratio = ours[0].rate / theirs[0].rate
        print(
            f"\n{workers} worker{'s' * (workers > 1)}: single records at 16 clients {ratio:.1f}x "
            f"mlflow's throughput (target >= 10x), p99 {ours[0].p99_ms:.0f} ms (target < 100); at 64 clients "
            f"{ours[1].errors} errors, {ours[1].shed} shed, p99 {ours[1].p99_ms:.0f} ms; 100-record requests at "
            f"{ours[2].rate * 100 / hundred:.0%} of the in-process rows/s (target >= 90 %)"
        )
    if soaked:
        run, samples = soaked
        settle = samples[len(samples) // 6 :]  # after the first sixth: start-up allocations are not growth
        growth = max(settle) / settle[0] - 1 if settle else float("nan")
        print(
            f"\nSoak, this service, 1 worker, {SOAK} s at {run.rate:,.0f} requests/s (half its capacity): "
            f"{run.errors} errors, {run.shed} shed, p99 {run.p99_ms:.0f} ms; memory {settle[0] / 2**20:,.0f} MiB -> "
            f"peak {max(settle) / 2**20:,.0f} MiB ({growth:+.1%}; target within 10 %)"
        )


if __name__ == "__main__":
    main()
