"""Deterministic daily batches of the synthetic domain (`domain.py`), typed as its contract says: ints int64, floats
float64, strings pandas' str, the time UTC. Resolution times follow the priority, channel, plan, message length,
backlog and the hour and day in Tokyo, with noise: a model has something to learn, not everything. And the same rows
as JSON: request records, inference-log lines (monitor.py's format) and late label lines."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from tests.synthetic.domain import CHANNELS, PLANS, PRIORITIES, ZONE

PRIORITY = dict(zip(PRIORITIES, (0.5, 0.1, -0.5, -1.2), strict=True))  # log-hours added to resolution
CHANNEL = dict(zip(CHANNELS, (0.4, -0.6, -0.3, 0.1), strict=True))
PLAN = dict(zip((*PLANS, None), (0.3, -0.1, -0.7, 0.4), strict=True))
BROKEN_COUNTER = 999_999  # a backlog the counter reports when it is broken (within the contract; cleaned away)


def batch(day: str, rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """The tickets opened on `day` (YYYY-MM-DD) in Tokyo, in time order; the same arguments give the same rows."""
    date = pd.Timestamp(day)
    rng = np.random.default_rng([seed, date.toordinal()])
    seconds = np.sort(rng.integers(0, 86_400, rows))
    local = pd.DatetimeIndex(date + pd.to_timedelta(seconds, unit="s"))
    channel = rng.choice(CHANNELS, rows, p=[0.4, 0.2, 0.25, 0.15])
    priority = rng.choice(PRIORITIES, rows, p=[0.3, 0.45, 0.2, 0.05])
    plan = np.array([None, *PLANS], dtype=object)[rng.choice(4, rows, p=[0.1, 0.5, 0.3, 0.1])]
    words = np.maximum(1, rng.lognormal(4.4, 0.8, rows)).astype("int64")
    backlog = rng.poisson(40, rows).astype("int64")
    night = (local.hour < 8) | (local.hour >= 20)
    log_hours = (
        2.5
        + np.vectorize(PRIORITY.get)(priority)
        + np.vectorize(CHANNEL.get)(channel)
        + np.array([PLAN[value] for value in plan])
        + 0.3 * np.log(words / 80)
        + 0.02 * (backlog - 40)
        + 0.5 * night
        + 0.4 * (local.day_of_week >= 5)
        + rng.normal(0, 0.6, rows)
    )
    hours = np.round(np.exp(log_hours), 2)
    hours[rng.random(rows) < 0.05] = np.nan  # still open: no label yet
    backlog[rng.random(rows) < 0.01] = BROKEN_COUNTER
    age = np.where(pd.isna(plan), np.nan, np.round(rng.exponential(500, rows), 1))
    return pd.DataFrame(
        {
            "ticket": pd.array([f"T-{date:%y%m%d}{n:04d}" for n in range(rows)], dtype="str"),
            "opened_at": local.tz_localize(ZONE).tz_convert("UTC"),
            "channel": pd.array(channel, dtype="str"),
            "priority": pd.array(priority, dtype="str"),
            "plan": pd.array(plan, dtype="str"),
            "words": words,
            "backlog": backlog,
            "account_age_days": age.astype("float64"),
            "first_reply_minutes": np.round(hours * 60 * rng.uniform(0.05, 0.3, rows), 1),
            "resolution_hours": hours,
        }
    )


def days(first: str, count: int) -> list[str]:
    """`count` consecutive days from `first`, as batch names (YYYY-MM-DD)."""
    return [f"{day:%Y-%m-%d}" for day in pd.date_range(first, periods=count, freq="D")]


def records(rows: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Rows as a client sends them in JSON: times in ISO 8601, missing values null."""

    def plain(value: Any) -> Any:
        return None if pd.isna(value) else value.isoformat() if isinstance(value, pd.Timestamp) else value

    return [{str(name): plain(value) for name, value in row.items()} for row in rows[columns].to_dict("records")]


def log_lines(rows: pd.DataFrame, probabilities: np.ndarray, columns: list[str], when: pd.Timestamp) -> list[str]:
    """Inference-log lines of rows scored in the seconds before `when`: `columns` (the model's inputs and the label
    key) under "features"."""
    return [
        json.dumps(
            {
                "request_id": f"r{index}",
                "timestamp": (when - pd.Timedelta(seconds=index)).isoformat(),
                "model": "a" * 32,
                "features": record,
                "probability": float(probabilities[index]),
            }
        )
        for index, record in enumerate(records(rows, columns))
    ]


def label_lines(rows: pd.DataFrame, flip: bool = False) -> list[str]:
    """Late labels: each ticket and its resolution time (null while it is open), or, flipped, the opposite of it."""
    hours = 48.0 - rows["resolution_hours"] if flip else rows["resolution_hours"]
    return [
        json.dumps({"ticket": ticket, "resolution_hours": None if pd.isna(value) else float(value)})
        for ticket, value in zip(rows["ticket"], hours, strict=True)
    ]
