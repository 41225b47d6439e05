"""Stage `train`: fit the one Pipeline on the training window."""

from __future__ import annotations

import logging
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from retrain.domain import Domain, load_domain
from retrain.io import files, modelfile
from retrain.params import Params, Train
from retrain.pipeline.featurize import summary, window
from retrain.pipeline.model import build
from retrain.results import Tuning

log = logging.getLogger(__name__)


def train(frame: pd.DataFrame, params: Train, domain: Domain) -> Pipeline:
    """Fit the Pipeline named in params.yaml on raw rows and their label."""
    model = build(domain, params.estimator, params.estimator_params(), params.seed)
    return model.fit(frame[list(domain.features)], frame[domain.target])


def metadata(frame: pd.DataFrame, params: Train, data_md5: str, domain: Domain) -> dict[str, Any]:
    """What a reader of the model file needs to know about it, written beside it: a function of the data, the params
    and the libraries alone (never the git commit, which would make every retrain in a new commit a new output)."""
    return {
        "estimator": params.estimator,
        "hyperparameters": params.estimator_params(),
        "seed": params.seed,
        "features": list(domain.features),
        "target": domain.target,
        "training_window": window([summary(frame, domain)]),
        "data_md5": data_md5,
        "versions": {
            "python": platform.python_version(),
            **{name: version(name) for name in ("scikit-learn", "pandas", "numpy", "skops")},
        },
    }


def run(params: Params, root: Path) -> None:
    """Stage train: fit the Pipeline (with the tuned values, if any) and save it with skops, metadata beside it."""
    paths = params.paths
    settings = params.train.tuned(Tuning.read(paths.best_params)) if paths.best_params.exists() else params.train
    frame, loaded = files.read_frame(paths.train), load_domain(params)
    model = train(frame, settings, loaded)
    modelfile.save(model, paths.model)
    files.write_json(metadata(frame, settings, files.md5(paths.train), loaded), paths.model_meta)
    log.info("train: %s fitted on %d rows, saved to %s", params.train.estimator, len(frame), paths.model)
