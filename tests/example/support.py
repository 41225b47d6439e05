"""The example's helpers: quarter slices of real months, and inference-log lines for flights a model scored."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sklearn.pipeline import Pipeline

from retrain.domain.nycflights import data as nycflights
from retrain.domain.nycflights import schema
from retrain.io import files
from tests.support import NOW


def write_slice(landing: Path, month: int) -> Path:
    """A quarter of a real month, as a batch file."""
    frame = nycflights.flights(2013, month).sample(frac=0.25, random_state=month).sort_index().reset_index(drop=True)
    path = landing / f"2013-{month:02d}.parquet"
    files.write_frame(frame, path)
    return path


def log_lines(
    model: Pipeline, flights: pd.DataFrame, rows: int = 2000, seed: int = 0, when: pd.Timestamp = NOW
) -> list[str]:
    """Inference log records for a sample of flights, timestamped in the day before `when`."""
    sample = flights.sample(rows, random_state=seed).reset_index(drop=True)
    probabilities = model.predict_proba(sample[list(schema.FEATURES)])[:, 1]
    lines = []
    for index, row in enumerate(sample[[*schema.FEATURES, "flight"]].to_dict("records")):
        record = {
            "request_id": f"r{index}",
            "timestamp": (when - pd.Timedelta(minutes=index)).isoformat(),
            "model": "a" * 32,
            "features": {name: (None if pd.isna(value) else value) for name, value in row.items()},
            "probability": float(probabilities[index]),
        }
        lines.append(json.dumps(record, default=str))
    return lines
