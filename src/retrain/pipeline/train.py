"""Stage `train`: fit the one Pipeline on the training window."""

from __future__ import annotations

import logging
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import pandas as pd
from sklearn.pipeline import Pipeline

from retrain.domain import Domain, load_domain, use
from retrain.io import cluster, files, modelfile
from retrain.params import Params, Train
from retrain.pipeline import partitioned
from retrain.pipeline.featurize import summary, window
from retrain.pipeline.model import build
from retrain.results import Tuning

log = logging.getLogger(__name__)


def train(frame: pd.DataFrame, params: Train, domain: Domain) -> Pipeline:
    """Fit the Pipeline named in params.yaml on raw rows and their label."""
    model = build(domain, params.estimator, params.estimator_params(), params.seed)
    return model.fit(frame[list(domain.features)], frame[domain.target])


def _derived(frame: pd.DataFrame, steps: Pipeline, domain: Domain) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """A partition's first row of model columns (before encoding), and the values each categorical one takes."""
    use(domain)
    derived = steps.transform(frame[list(domain.features)])
    return derived.head(1), {name: derived[name].drop_duplicates() for name in domain.categorical}


def _catalog(first: pd.DataFrame, values: list[dict[str, pd.Series]], domain: Domain) -> pd.DataFrame:
    """Rows of model columns in which each categorical column takes every value it takes in the training window
    (missing too, if ever): what the encoder learns its categories from, as it would from every row."""
    distinct = {name: pd.concat([part[name] for part in values]).drop_duplicates() for name in domain.categorical}
    rows = max([len(found) for found in distinct.values()] + [1])
    catalog = first.iloc[[0] * rows].reset_index(drop=True)
    for name, found in distinct.items():
        catalog[name] = pd.concat([found] * rows, ignore_index=True).iloc[:rows].to_numpy()
    return catalog


def _prepared(rows: files.Rows, steps: Pipeline, domain: Domain) -> pd.DataFrame:
    """A training part as the estimator sees it: its encoded model columns, and the target (read and encoded by the
    worker that holds the result, so that only this stays in its memory)."""
    use(domain)
    frame = files.read_rows(rows, [*domain.features, domain.target])
    encoded: pd.DataFrame = steps.transform(frame[list(domain.features)])
    return encoded.assign(**{domain.target: frame[domain.target].to_numpy()})


def fit_on_cluster(ranges: list[files.Rows], params: Train, domain: Domain) -> Pipeline:
    """The Pipeline with an XGBoost estimator fitted on the cluster, by `xgboost.dask`, on the training window's
    parts (never gathered): the steps before it are fitted first (the encoder's categories from the values each part
    takes), then each part is encoded on the worker it is pinned to (part i on the i-th worker by address, modulo
    their number: the same cluster size gives the same model), and the fitted booster is put back in a plain
    XGBClassifier, which skops saves and Treelite reads like one fitted in one process."""
    from distributed import get_client
    from xgboost import XGBClassifier
    from xgboost.dask import DaskXGBClassifier

    model = build(domain, params.estimator, params.estimator_params(), params.seed)
    columns, steps = [*domain.features, domain.target], model[:2]  # the domain's cleaning and derived features
    steps.fit(files.read_rows(files.Rows(ranges[0].path, 0, min(ranges[0].stop, 1)), columns)[list(domain.features)])
    (found,) = partitioned.compute(partitioned.tasks(_derived, ranges, steps, domain, columns=columns))
    model.named_steps["encode"].fit(_catalog(found[0][0], [values for _, values in found], domain))
    prepare, client = model[:-1], get_client()
    workers = sorted(client.scheduler_info()["workers"])
    pinned = [{"workers": [workers[i % len(workers)]], "allow_other_workers": False} for i in range(len(ranges))]
    parts = [
        client.submit(_prepared, rows, prepare, domain, **where) for rows, where in zip(ranges, pinned, strict=True)
    ]
    meta = _prepared(files.Rows(ranges[0].path, 0, min(ranges[0].stop, 1)), prepare, domain).iloc[:0]
    data = dd.from_delayed(parts, meta=meta, verify_meta=False)
    x, y = data.drop(columns=[domain.target]), data[domain.target]
    estimator = model.named_steps["model"]
    distributed = DaskXGBClassifier(**estimator.get_params())
    distributed.client = client
    distributed.fit(x, y)
    fitted = XGBClassifier(**estimator.get_params())
    fitted.load_model(bytearray(distributed.get_booster().save_raw("ubj")))
    model.steps[-1] = ("model", fitted)
    return model


def metadata(training: dict[str, Any], params: Train, data_md5: str, domain: Domain) -> dict[str, Any]:
    """What a reader of the model file needs to know about it, written beside it: a function of the data, the params
    and the libraries alone (never the git commit, which would make every retrain in a new commit a new output)."""
    return {
        "estimator": params.estimator,
        "hyperparameters": params.estimator_params(),
        "seed": params.seed,
        "features": list(domain.features),
        "target": domain.target,
        "training_window": training,
        "data_md5": data_md5,
        "versions": {
            "python": platform.python_version(),
            **{name: version(name) for name in ("scikit-learn", "pandas", "numpy", "skops")},
        },
    }


def run(params: Params, root: Path) -> None:
    """Stage train: fit the Pipeline (with the tuned values, if any) and save it with skops, metadata beside it.
    With `engine: dask`, an XGBoost estimator is fitted on the cluster (`fit_on_cluster`); any other is fitted here,
    on the gathered training window, as with the local engine."""
    paths, domain = params.paths, load_domain(params)
    settings = params.train.tuned(Tuning.read(paths.best_params)) if paths.best_params.exists() else params.train
    if params.engine == "dask" and settings.estimator == "xgboost":
        ranges = files.row_ranges(paths.train, params.partition_rows)
        with cluster.connect():
            model = fit_on_cluster(ranges, settings, domain)
            columns = [domain.time, domain.target]
            (sums,) = partitioned.compute(partitioned.tasks(summary, ranges, domain, columns=columns))
        training = window(sums)
    else:
        frame = files.read_frame(paths.train)
        model, training = train(frame, settings, domain), window([summary(frame, domain)])
    modelfile.save(model, paths.model)
    files.write_json(metadata(training, settings, files.md5(paths.train), domain), paths.model_meta)
    log.info("train: %s fitted on %d rows, saved to %s", settings.estimator, training["rows"], paths.model)
