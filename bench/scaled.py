"""The example's domain for data resampled many times over (bench/scale.py): the same contract but for the flight
number's upper bound, since a day's flights of one carrier at one airport outnumber 9,999 flight numbers at 20x."""

from __future__ import annotations

from dataclasses import replace

from retrain.domain.nycflights import DOMAIN as FLIGHTS

COLUMNS = tuple(replace(column, le=None) if column.name == "flight" else column for column in FLIGHTS.batch.columns)
DOMAIN = replace(FLIGHTS, batch=replace(FLIGHTS.batch, columns=COLUMNS))
