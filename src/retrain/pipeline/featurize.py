"""Stage `featurize`: the domain's side-table join, the label and the time split.

Nothing here is fitted: every learned transformation lives in the Pipeline (`model.py`), so the service scores
raw rows with the same object.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from retrain.domain import Domain, load_domain, periods
from retrain.io import files
from retrain.params import Featurize, Params
from retrain.pipeline.validate import read_sides

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    stats: dict[str, Any]


def label(rows: pd.DataFrame, domain: Domain) -> tuple[pd.DataFrame, int]:
    """Add the domain's target, made from its outcome; drop the rows whose outcome is not known."""
    known = rows[domain.outcome].notna()
    labelled = rows.loc[known].copy()
    labelled[domain.target] = domain.labelled(labelled[domain.outcome])
    return labelled.reset_index(drop=True), int((~known).sum())


def split(
    frame: pd.DataFrame, domain: Domain, test_periods: int, train_periods: int | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The most recent `test_periods` batch periods are the test window; up to `train_periods` before it train."""
    starts = periods.starts(frame[domain.time], domain.period, domain.timezone)
    distinct = sorted(starts.unique())
    if len(distinct) <= test_periods:
        raise ValueError(f"need more than {test_periods} {domain.period}(s) of data to split, found {len(distinct)}")
    test_start = distinct[-test_periods]
    train_start = distinct[:-test_periods][-train_periods] if train_periods else distinct[0]
    train = frame.loc[(starts >= train_start) & (starts < test_start)].reset_index(drop=True)
    test = frame.loc[starts >= test_start].reset_index(drop=True)
    return train, test


def window(frame: pd.DataFrame, domain: Domain) -> dict[str, Any]:
    """Rows, first and last time, and the positive share of a window of labelled rows."""
    return {
        "rows": len(frame),
        "first": str(frame[domain.time].min()),
        "last": str(frame[domain.time].max()),
        "positive_share": round(float(frame[domain.target].mean()), 4),
    }


def featurize(batches: pd.DataFrame, sides: Mapping[str, pd.DataFrame], params: Featurize, domain: Domain) -> Split:
    """Validated batches and side tables (by table name) in, training and test windows (raw model columns + label)
    out. Side-table values that no row matched stay missing (counted per feature)."""
    joined = domain.join(batches, sides)  # raw values: cleaning is the Pipeline's first step
    labelled, unlabelled = label(joined, domain)
    train, test = split(labelled, domain, params.test_periods, params.train_periods)
    side_features = [name for name in domain.features if name not in batches.columns]
    stats = {
        "unlabelled_dropped": unlabelled,
        "side_values_missing": int(labelled[side_features].isna().all(axis=1).sum()) if side_features else 0,
        "train": window(train, domain),
        "test": window(test, domain),
    }
    return Split(train, test, stats)


def run(params: Params, root: Path) -> None:
    """Stage featurize: join the side tables, label, split by time."""
    paths, domain = params.paths, load_domain(params)
    sides = {
        table.name: frame for table, frame in zip(domain.sides, read_sides(paths.sides, domain).values(), strict=True)
    }
    split = featurize(files.read_frame(paths.validated), sides, params.featurize, domain)
    files.write_parts(split.train, paths.train, params.partition_rows)
    files.write_parts(split.test, paths.test, params.partition_rows)
    files.write_json(split.stats, paths.data_metrics)
    log.info("featurize: %d training rows, %d test rows", len(split.train), len(split.test))
