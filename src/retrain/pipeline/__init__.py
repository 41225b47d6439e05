"""The one scikit-learn Pipeline, from raw rows to a probability. Training fits it, serving loads it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from retrain.domain import schema

DERIVED = ("day_of_week", "dep_hour", "dep_minute_of_day", "arr_minute_of_day")
NUMERIC = (*DERIVED, "distance", *schema.WEATHER_FEATURES)
CATEGORICAL = schema.CATEGORICAL


def _minute_of_day(hhmm: pd.Series) -> pd.Series:
    return (hhmm // 100) * 60 + hhmm % 100


def _day_of_week(year: pd.Series, month: pd.Series, day: pd.Series) -> np.ndarray:
    """Monday = 0, with numpy dates (pd.to_datetime from columns costs milliseconds per call when serving)."""
    months = ((year.to_numpy() - 1970) * 12 + month.to_numpy() - 1).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (day.to_numpy() - 1).astype("timedelta64[D]")
    return np.asarray((days.astype("int64") + 3) % 7, dtype="float64")  # 1970-01-01 was a Thursday


def derive_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Stateless features from the raw schedule columns; every other column (leaky ones included) is dropped."""
    derived = pd.DataFrame(
        {
            "day_of_week": _day_of_week(frame["year"], frame["month"], frame["day"]),
            "dep_hour": (frame["sched_dep_time"] // 100).astype("float64"),
            "dep_minute_of_day": _minute_of_day(frame["sched_dep_time"]).astype("float64"),
            "arr_minute_of_day": _minute_of_day(frame["sched_arr_time"]).astype("float64"),
        },
        index=frame.index,
    )
    numeric = frame[["distance", *schema.WEATHER_FEATURES]].astype("float64")
    categorical = frame[list(CATEGORICAL)].astype(object)
    return pd.concat([derived, numeric, categorical], axis=1)


def _encoder(estimator: str) -> ColumnTransformer:
    if estimator == "hist_gradient_boosting":
        categorical: Any = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
        )
        numeric: Any = "passthrough"
    else:
        categorical = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False)
        numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    return ColumnTransformer(
        [("categorical", categorical, list(CATEGORICAL)), ("numeric", numeric, list(NUMERIC))],
        verbose_feature_names_out=False,
    )


def build(estimator: str, hyperparameters: dict[str, Any], seed: int) -> Pipeline:
    """An unfitted Pipeline: derived features, encoding, and the estimator named in params.yaml."""
    model: Any
    if estimator == "hist_gradient_boosting":
        model = HistGradientBoostingClassifier(
            categorical_features=list(CATEGORICAL), random_state=seed, **hyperparameters
        )
    elif estimator == "logistic_regression":
        model = LogisticRegression(random_state=seed, **hyperparameters)
    else:
        raise ValueError(f"unknown estimator {estimator!r} (hist_gradient_boosting or logistic_regression)")
    pipeline = Pipeline(
        [
            ("features", FunctionTransformer(derive_features, validate=False)),
            ("encode", _encoder(estimator)),
            ("model", model),
        ]
    )
    return pipeline.set_output(transform="pandas")
