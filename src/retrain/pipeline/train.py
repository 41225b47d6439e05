"""Stage `train`: fit the one Pipeline on the training window."""

from __future__ import annotations

import platform
from importlib.metadata import version
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from retrain import pipeline
from retrain.domain import schema
from retrain.params import Train


def train(frame: pd.DataFrame, params: Train) -> Pipeline:
    """Fit the Pipeline named in params.yaml on raw rows and their label."""
    model = pipeline.build(params.estimator, params.estimator_params(), params.seed)
    return model.fit(frame[list(schema.FEATURES)], frame[schema.TARGET])


def metadata(frame: pd.DataFrame, params: Train, data_md5: str, commit: str) -> dict[str, Any]:
    """What a reader of the model file needs to know about it, written beside it."""
    return {
        "estimator": params.estimator,
        "hyperparameters": params.estimator_params(),
        "seed": params.seed,
        "features": list(schema.FEATURES),
        "target": schema.TARGET,
        "training_window": {
            "first": str(frame["time_hour"].min()),
            "last": str(frame["time_hour"].max()),
            "rows": len(frame),
            "late_share": round(float(frame[schema.TARGET].mean()), 4),
        },
        "data_md5": data_md5,
        "git_commit": commit,
        "versions": {
            "python": platform.python_version(),
            **{name: version(name) for name in ("scikit-learn", "pandas", "numpy", "skops")},
        },
    }
