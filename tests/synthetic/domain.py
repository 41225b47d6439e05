"""A synthetic domain: will a support ticket take more than `slow_hours` to resolve? The worked example of README's
"Bring your own data", of another shape than the example: one table (no side table), daily batches cut in Tokyo, a
string row key that late labels carry, a timestamp among the model's inputs, a nullable category.

Every function is at module level: a saved model names the machinery's steps, which call these through the active
domain, and the Domain itself is pickled to worker processes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from retrain.domain import Column, Domain, Settings, Table, Words

ZONE = "Asia/Tokyo"  # the support desk's zone: a day's batch is a Tokyo day
CHANNELS = ("email", "phone", "chat", "web")
PRIORITIES = ("low", "normal", "high", "urgent")
PLANS = ("free", "pro", "enterprise")

TICKETS: tuple[Column, ...] = (
    Column("ticket", "str", pattern=r"T-\d{10}", description="ticket number: T-, the day opened (yymmdd), a serial"),
    Column("opened_at", "datetime", description="when the ticket was opened, UTC"),
    Column("channel", "str", allowed=CHANNELS, description="how the customer wrote in"),
    Column("priority", "str", allowed=PRIORITIES, description="the priority given when it was opened"),
    Column("plan", "str", nullable=True, allowed=PLANS, description="the customer's plan; null: no account"),
    Column("words", "int", ge=1, le=100_000, description="words in the first message"),
    Column("backlog", "int", ge=0, le=1_000_000, description="open tickets in the queue when it was opened"),
    Column("account_age_days", "float", nullable=True, ge=0, le=20_000, description="age of the customer's account"),
    Column("first_reply_minutes", "float", nullable=True, ge=0, description="minutes to the first reply"),
    Column("resolution_hours", "float", nullable=True, ge=0, le=10_000, description="hours to resolve; null: open"),
)

FEATURES = ("opened_at", "channel", "priority", "plan", "words", "backlog", "account_age_days")
"""The raw columns the model reads: all known when the ticket is opened."""
CATEGORICAL = ("channel", "priority", "plan")
NUMERIC = ("local_hour", "weekend", "words", "backlog", "account_age_days")
LEAKY = ("first_reply_minutes", "resolution_hours")
"""Known only once someone worked on the ticket: never a feature."""


class TicketSettings(Settings):
    """params.yaml `domain.settings` of this domain."""

    slow_hours: float = Field(gt=0)  # the label: resolved in more than this many hours
    max_backlog: float = Field(gt=0)  # a larger backlog is a broken counter: the Pipeline makes it missing

    def cleaning(self) -> dict[str, Any]:
        return {"max_backlog": self.max_backlog}


def slow(outcome: pd.Series, settings: TicketSettings) -> pd.Series:
    """Resolved in more than `slow_hours` (1) or not (0)."""
    return outcome > settings.slow_hours


def cap_backlog(frame: pd.DataFrame, max_backlog: float) -> pd.DataFrame:
    """A backlog above `max_backlog` cannot be real: it becomes missing."""
    cleaned = frame.copy(deep=False)
    values = cleaned["backlog"].to_numpy(dtype="float64")
    cleaned["backlog"] = np.where(values <= max_backlog, values, np.nan)
    return cleaned


def derive(frame: pd.DataFrame) -> pd.DataFrame:
    """Model columns from the raw ones: the hour and the weekend of the desk's zone, numbers as float64, categories
    as object (what the fitted encoders were given); every other column is dropped."""
    local = frame["opened_at"].dt.tz_convert(ZONE)
    derived: dict[str, Any] = {
        "local_hour": local.dt.hour.to_numpy(dtype="float64"),
        "weekend": (local.dt.day_of_week >= 5).to_numpy(dtype="float64"),
    }
    for name in ("words", "backlog", "account_age_days"):
        derived[name] = frame[name].to_numpy(dtype="float64")
    for name in CATEGORICAL:
        derived[name] = pd.Series(frame[name].to_numpy(dtype=object), index=frame.index, dtype=object)
    return pd.DataFrame(derived, index=frame.index)


DOMAIN = Domain(
    name="ticket-sla",
    batch=Table("tickets", TICKETS, key=("ticket",)),
    time="opened_at",
    period="day",
    timezone=ZONE,
    outcome="resolution_hours",
    target="slow",
    label=slow,
    settings=TicketSettings,
    features=FEATURES,
    categorical=CATEGORICAL,
    numeric=NUMERIC,
    derive=derive,
    clean=cap_backlog,
    leaky=LEAKY,
    label_key=("ticket",),
    words=Words(row="ticket", rows="tickets", classes=("quick", "slow")),
)
