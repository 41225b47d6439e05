"""The data contract: every column the pipeline reads, its type, its range, and which ones the model may see.

Validation (`pipeline/validate.py`, with the cross-column rules in `rules.py`), feature building (`features.py`)
and the service's request model all read this module: the loop's machinery names no raw column of its own.
"""

from __future__ import annotations

from retrain.domain import Column

ORIGINS = ("EWR", "JFK", "LGA")

FLIGHTS: tuple[Column, ...] = (
    Column("year", "int", ge=2000, le=2100, description="year of the scheduled departure"),
    Column("month", "int", ge=1, le=12, description="month of the scheduled departure"),
    Column("day", "int", ge=1, le=31, description="day of month of the scheduled departure"),
    Column("dep_time", "float", nullable=True, ge=0, le=2400, hhmm=True, description="actual departure, hhmm"),
    Column("sched_dep_time", "int", ge=0, le=2359, hhmm=True, description="scheduled departure, local hhmm"),
    Column("dep_delay", "float", nullable=True, ge=-1440, le=2880, description="departure delay, minutes"),
    Column("arr_time", "float", nullable=True, ge=0, le=2400, hhmm=True, description="actual arrival, hhmm"),
    Column("sched_arr_time", "int", ge=0, le=2400, hhmm=True, description="scheduled arrival, local hhmm"),
    Column("arr_delay", "float", nullable=True, ge=-1440, le=2880, description="arrival delay, minutes"),
    Column("carrier", "str", pattern=r"[A-Z0-9]{2}", description="two-letter carrier code"),
    Column("flight", "int", ge=1, le=9999, description="flight number"),
    Column("tailnum", "str", nullable=True, pattern=r"[A-Z0-9]{2,6}", description="plane tail number"),
    Column("origin", "str", allowed=ORIGINS, description="origin airport (the three NYC airports)"),
    Column("dest", "str", pattern=r"[A-Z]{3}", description="destination airport, IATA code"),
    Column("air_time", "float", nullable=True, ge=0, le=1000, description="minutes in the air"),
    Column("distance", "int", ge=1, le=6000, description="miles between airports; must be > 0"),
    Column("hour", "int", ge=0, le=23, description="hour of sched_dep_time"),
    Column("minute", "int", ge=0, le=59, description="minute of sched_dep_time"),
    Column("time_hour", "datetime", description="scheduled departure hour, UTC"),
)

WEATHER: tuple[Column, ...] = (
    Column("origin", "str", allowed=ORIGINS),
    Column("year", "int", ge=2000, le=2100),
    Column("month", "int", ge=1, le=12),
    Column("day", "int", ge=1, le=31),
    Column("hour", "int", ge=0, le=23),
    Column("temp", "float", nullable=True, ge=-60, le=130, description="temperature, F"),
    Column("dewp", "float", nullable=True, ge=-80, le=100, description="dew point, F"),
    Column("humid", "float", nullable=True, ge=0, le=100, description="relative humidity, %"),
    Column("wind_dir", "float", nullable=True, ge=0, le=360, description="wind direction, degrees"),
    Column("wind_speed", "float", nullable=True, ge=0, le=1500, description="wind speed, mph (a sensor's range)"),
    Column("wind_gust", "float", nullable=True, ge=0, le=1500, description="gust speed, mph (a sensor's range)"),
    Column("precip", "float", nullable=True, ge=0, le=20, description="precipitation, inches"),
    Column("pressure", "float", nullable=True, ge=850, le=1100, description="sea level pressure, millibars"),
    Column("visib", "float", nullable=True, ge=0, le=100, description="visibility, miles"),
    Column("time_hour", "datetime"),
)

# A flight is identified by its scheduled day, carrier, flight number and origin.
FLIGHT_KEY = ("year", "month", "day", "carrier", "flight", "origin")
WEATHER_KEY = ("origin", "time_hour")

TARGET = "late"
"""The label: arrival more than `featurize.late_minutes` late."""
OUTCOME = "arr_delay"
"""The raw column the label is made from (and what late label records carry); missing for cancelled flights."""
TIME = "time_hour"
"""The scheduled time of a row (UTC): windows, batches and staleness are measured on it."""
LOCAL_TIME = "America/New_York"
"""The time zone of the scheduled times."""


SCHEDULE_FEATURES = (
    "year",
    "month",
    "day",
    "sched_dep_time",
    "sched_arr_time",
    "carrier",
    "origin",
    "dest",
    "distance",
)
WEATHER_FEATURES = (
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
)
FEATURES = SCHEDULE_FEATURES + WEATHER_FEATURES
"""The raw columns the model reads: all known when the flight is scheduled (weather stands in for its forecast)."""

CATEGORICAL = ("carrier", "origin", "dest")

LEAKY = ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "tailnum")
"""Known only after departure (or unrelated to the schedule): must never reach the model."""
