"""Evidently's data drift preset on the benchmark data; runs in its own venv (Evidently 0.7.23 needs pandas < 3).

Usage: python evidently_drift.py REFERENCE.parquet CURRENT.parquet CATEGORICAL,COLUMNS REPEATS
Prints the median wall seconds of Dataset.from_pandas + Report.run.
"""

import statistics
import sys
import time

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def main() -> None:
    reference, current = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
    categorical = sys.argv[3].split(",")
    numerical = [name for name in reference.columns if name not in categorical]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    times = []
    for _ in range(int(sys.argv[4])):
        start = time.perf_counter()
        Report([DataDriftPreset()]).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        times.append(time.perf_counter() - start)
    print(statistics.median(times))


if __name__ == "__main__":
    main()
