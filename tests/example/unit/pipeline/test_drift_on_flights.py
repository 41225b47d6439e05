"""Drift on the example: the features it compares, and the real shift from the first half of 2013 to August."""

from __future__ import annotations

import pandas as pd

from retrain.domain import Domain
from retrain.pipeline import drift
from tests.unit.pipeline.test_drift import PARAMS


def test_drift_compares_the_models_inputs_less_the_excluded(domain: Domain) -> None:
    compared = drift.compared(domain, PARAMS)
    assert compared == [name for name in domain.features if name not in ("year", "month", "day")]
    assert {"carrier", "origin", "temp", "wind_speed"} <= set(compared)
    assert not set(compared) & set(domain.leaky)


def test_the_real_shift_to_a_summer_month_is_reported(domain: Domain) -> None:
    from retrain.domain.nycflights import data as nycflights

    sides = {"weather": nycflights.weather()}
    reference = domain.join(pd.concat([nycflights.flights(2013, m) for m in range(1, 7)], ignore_index=True), sides)
    current = domain.join(nycflights.flights(2013, 8), sides)
    result = drift.drift(reference, current, PARAMS, drift.compared(domain, PARAMS))
    assert result.dataset_drift is True
    assert {"temp", "dewp"} <= set(result.drifted_features)
    assert "origin" not in result.drifted_features
