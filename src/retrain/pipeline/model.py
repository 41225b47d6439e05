"""The one scikit-learn Pipeline, from raw rows to a probability: the domain's cleaning of impossible values and its
derived features, the encoding, and the estimator named in params.yaml. Training fits it, serving loads it; nothing
outside it transforms a model input."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler
from xgboost import XGBClassifier

from retrain.domain import Domain
from retrain.pipeline import clean_readings, derive_features

TREES = ("hist_gradient_boosting", "xgboost")  # categories as ordinal codes, numbers as they are


def _encoder(estimator: str, domain: Domain) -> ColumnTransformer:
    if estimator in TREES:
        categorical: Any = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
        )
        numeric: Any = "passthrough"
    else:
        categorical = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False)
        numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    return ColumnTransformer(
        [("categorical", categorical, list(domain.categorical)), ("numeric", numeric, list(domain.numeric))],
        verbose_feature_names_out=False,
    )


def build(domain: Domain, estimator: str, hyperparameters: dict[str, Any], seed: int) -> Pipeline:
    """An unfitted Pipeline: the domain's cleaning (with its settings) and derived features, the encoding, and the
    estimator named in params.yaml."""
    model: Any
    if estimator == "hist_gradient_boosting":
        model = HistGradientBoostingClassifier(
            categorical_features=list(domain.categorical), random_state=seed, **hyperparameters
        )
    elif estimator == "xgboost":  # categories as their ordinal codes: Treelite cannot read XGBoost's own encoder
        model = XGBClassifier(random_state=seed, tree_method="hist", enable_categorical=False, **hyperparameters)
    elif estimator == "logistic_regression":
        model = LogisticRegression(random_state=seed, **hyperparameters)
    else:
        raise ValueError(f"unknown estimator {estimator!r} (hist_gradient_boosting, xgboost or logistic_regression)")
    pipeline = Pipeline(
        [
            ("clean", FunctionTransformer(clean_readings, kw_args=domain.config.cleaning(), validate=False)),
            ("features", FunctionTransformer(derive_features, validate=False)),
            ("encode", _encoder(estimator, domain)),
            ("model", model),
        ]
    )
    return pipeline.set_output(transform="pandas")
