"""The example domain, NYC flights 2013: will a flight arrive more than `late_minutes` late? Its data contract
(`schema.py`), cross-column rules (`rules.py`), the weather join and derived features (`features.py`) and the
bundled monthly batches (`data.py`). `DOMAIN` is all the machinery reads of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import Field

from retrain.domain import Domain, Settings, Table, Words
from retrain.domain.nycflights import data, features, rules, schema


class FlightSettings(Settings):
    """params.yaml `domain.settings` of the example."""

    late_minutes: float  # the label: arrival more than this late
    max_wind_speed: float = Field(gt=0)  # mph; faster readings are sensor errors: the Pipeline makes them missing

    def cleaning(self) -> dict[str, Any]:
        return {"max_wind_speed": self.max_wind_speed}


def late(outcome: pd.Series, settings: FlightSettings) -> pd.Series:
    """Arrived more than `late_minutes` late (1) or not (0)."""
    return outcome > settings.late_minutes


def join(flights: pd.DataFrame, sides: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    return features.join_weather(flights, sides["weather"])


DOMAIN = Domain(
    name="flight-delay",
    batch=Table("flights", schema.FLIGHTS, schema.FLIGHT_KEY, rules.flight_rules),
    sides=(Table("weather", schema.WEATHER, schema.WEATHER_KEY),),
    join=join,
    time=schema.TIME,
    timezone=schema.LOCAL_TIME,
    period="month",
    outcome=schema.OUTCOME,
    target=schema.TARGET,
    label=late,
    settings=FlightSettings,
    features=schema.FEATURES,
    categorical=schema.CATEGORICAL,
    numeric=features.NUMERIC,
    derive=features.derive,
    clean=features.clean_weather,
    leaky=schema.LEAKY,
    label_key=schema.FLIGHT_KEY,
    row_time=features.scheduled,
    check_record=features.check_record,
    words=Words(row="flight", rows="flights", classes=("on time", "late")),
    bundled=data.bundled,
)
