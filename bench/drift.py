"""Benchmark the drift stage against Evidently's data drift preset on the same data, and print a Markdown table.

1,000,000 reference rows (months 1-6) and 200,000 current rows (July), resampled from the bundled flights with a
fixed seed, the 15 drift features. Evidently runs in a separate venv (see `make bench`), given by --evidently.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
from scipy import stats

from retrain import params
from retrain.domain import features, nycflights, schema
from retrain.pipeline import drift

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_ROWS, CURRENT_ROWS, REPEATS = 1_000_000, 200_000, 3


def data() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    settings = params.load(ROOT / "params.yaml").drift
    columns = [name for name in schema.FEATURES if name not in settings.exclude]
    weather = nycflights.weather()
    months = pd.concat([nycflights.flights(2013, month) for month in range(1, 7)], ignore_index=True)
    reference = features.join_weather(months, weather)[columns].sample(REFERENCE_ROWS, replace=True, random_state=1)
    july = features.join_weather(nycflights.flights(2013, 7), weather)[columns]
    current = july.sample(CURRENT_ROWS, replace=True, random_state=2)
    return reference.reset_index(drop=True), current.reset_index(drop=True), columns


def timed(function: object, *args: object) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        function(*args)  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scipy_loop(reference: pd.DataFrame, current: pd.DataFrame) -> None:
    """The plain way: one scipy call per column on the raw values."""
    for name in reference.columns:
        if name in schema.CATEGORICAL:
            table = pd.concat([reference[name].value_counts(), current[name].value_counts()], axis=1).fillna(0)
            stats.chi2_contingency(table.to_numpy().T)
        else:
            stats.ks_2samp(reference[name].dropna(), current[name].dropna())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evidently", type=Path, help="python of a venv with evidently==0.7.23")
    arguments = parser.parse_args()
    reference, current, columns = data()
    settings = params.load(ROOT / "params.yaml").drift
    ours = timed(drift.drift, reference, current, settings, columns)
    plain = timed(scipy_loop, reference, current)
    rows = [
        ("`retrain drift` (KS / chi-square + PSI, all features)", ours),
        ("per-column scipy loop (tests only)", plain),
    ]
    evidently = None
    if arguments.evidently:
        with tempfile.TemporaryDirectory() as scratch:
            reference.to_parquet(Path(scratch) / "reference.parquet")
            current.to_parquet(Path(scratch) / "current.parquet")
            output = subprocess.run(
                [
                    str(arguments.evidently),
                    str(ROOT / "bench/evidently_drift.py"),
                    f"{scratch}/reference.parquet",
                    f"{scratch}/current.parquet",
                    ",".join(schema.CATEGORICAL),
                    str(REPEATS),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            evidently = float(output.stdout.strip().splitlines()[-1])
        rows.append(("Evidently 0.7.23 `DataDriftPreset`", evidently))
    print(
        f"Drift on {REFERENCE_ROWS:,} reference x {CURRENT_ROWS:,} current rows, {len(columns)} features "
        f"(median of {REPEATS})\n"
    )
    print("| method | seconds | `retrain drift` is faster by |\n|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / ours:.1f}x |")
    print("\nTargets: `retrain drift` under 1 s and at least 20x faster than Evidently.")


if __name__ == "__main__":
    main()
