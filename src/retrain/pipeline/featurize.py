"""Stage `featurize`: the domain's cleaning and side-table join (`nycflights.features`), the label and the time split.

Nothing here is fitted: every learned transformation lives in the Pipeline (`model.py`), so the service scores
raw rows with the same object.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrain.domain.nycflights import features, schema
from retrain.io import files
from retrain.params import Featurize, Params

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    stats: dict[str, Any]


def label(flights: pd.DataFrame, late_minutes: int) -> tuple[pd.DataFrame, int]:
    """Add the target `late` (arrival more than `late_minutes` late); drop flights with no arrival delay."""
    known = flights[schema.OUTCOME].notna()
    labelled = flights.loc[known].copy()
    labelled[schema.TARGET] = schema.label(labelled[schema.OUTCOME], late_minutes)
    return labelled.reset_index(drop=True), int((~known).sum())


def split(frame: pd.DataFrame, test_months: int, train_months: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The most recent `test_months` months are the test window; up to `train_months` months before it train."""
    period = frame["year"] * 12 + frame["month"] - 1
    months = np.sort(period.unique())
    if len(months) <= test_months:
        raise ValueError(f"need more than {test_months} month(s) of data to split, found {len(months)}")
    test_start = months[-test_months]
    train_start = months[:-test_months][-train_months] if train_months else months[0]
    train = frame.loc[(period >= train_start) & (period < test_start)].reset_index(drop=True)
    test = frame.loc[period >= test_start].reset_index(drop=True)
    return train, test


def window(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, first and last scheduled hour, and the late share of a window of labelled flights."""
    return {
        "rows": len(frame),
        "first": str(frame[schema.TIME].min()),
        "last": str(frame[schema.TIME].max()),
        "late_share": round(float(frame[schema.TARGET].mean()), 4),
    }


def featurize(flights: pd.DataFrame, weather: pd.DataFrame, params: Featurize) -> Split:
    """Validated flights and weather in, training and test windows (raw model columns + label) out."""
    joined = features.join_weather(flights, weather)  # raw readings: cleaning is the Pipeline's first step
    labelled, cancelled = label(joined, params.late_minutes)
    train, test = split(labelled, params.test_months, params.train_months)
    stats = {
        "cancelled_dropped": cancelled,
        "weather_missing": int(labelled["temp"].isna().sum()),
        "train": window(train),
        "test": window(test),
    }
    return Split(train, test, stats)


def run(params: Params, root: Path) -> None:
    """Stage featurize: clean, join the weather, label, split by time."""
    paths = params.paths
    split = featurize(files.read_frame(paths.validated), files.read_frame(paths.weather), params.featurize)
    files.write_frame(split.train, paths.train)
    files.write_frame(split.test, paths.test)
    files.write_json(split.stats, paths.data_metrics)
    log.info("featurize: %d training rows, %d test rows", len(split.train), len(split.test))
