"""Stage `tune`: search the estimator's hyperparameters with Optuna, on time-ordered folds of the training window.

Folds expand in time: fold k fits on every batch period before validation period k and scores period k; nothing is
shuffled across time and evaluate's test window is never seen. Each fold is a pruning step: a trial whose running
mean is below the median of earlier trials at the same fold stops there.

The study lives in Optuna storage (SQLite under tuning/ by default; any SQLAlchemy URL, e.g. PostgreSQL, from
$RETRAIN_TUNE_STORAGE) under a name derived from its inputs, so N worker processes, or N machines, add trials to one
study until it holds `tune.trials` of them, and a rerun with the same inputs finds the study done.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import sqlalchemy
from sklearn.metrics import average_precision_score, roc_auc_score
from threadpoolctl import threadpool_limits

from retrain import tracking
from retrain.domain import Domain, load_domain, periods, use
from retrain.io import files
from retrain.params import Params, Train, Tune
from retrain.pipeline.model import build
from retrain.results import Tuning

log = logging.getLogger(__name__)
METRICS: dict[str, Callable[..., float]] = {"roc_auc": roc_auc_score, "pr_auc": average_precision_score}
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def folds(frame: pd.DataFrame, n: int, domain: Domain) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, validation rows) for the last `n` batch periods of the frame, each fitted on every one before it."""
    period = periods.starts(frame[domain.time], domain.period, domain.timezone).to_numpy()
    distinct = np.unique(period)
    if len(distinct) < n + 1:
        raise ValueError(
            f"tune.folds is {n} but the training window has {len(distinct)} {domain.period}s: need folds + 1"
        )
    for validation in distinct[-n:]:
        yield period < validation, period == validation


def suggest(trial: optuna.Trial, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One value per hyperparameter: `choices`, or a range (`low`, `high`, optional `log`, `step`)."""
    values: dict[str, Any] = {}
    for name, spec in space.items():
        if "choices" in spec:
            values[name] = trial.suggest_categorical(name, spec["choices"])
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
            values[name] = trial.suggest_int(
                name, spec["low"], spec["high"], step=spec.get("step", 1), log=spec.get("log", False)
            )
        else:
            values[name] = trial.suggest_float(name, spec["low"], spec["high"], log=spec.get("log", False))
    return values


def grid(space: dict[str, dict[str, Any]]) -> dict[str, list[Any]]:
    """The grid sampler's points: `choices`, else low, middle (geometric when `log`) and high."""
    points: dict[str, list[Any]] = {}
    for name, spec in space.items():
        if "choices" in spec:
            points[name] = list(spec["choices"])
            continue
        low, high = spec["low"], spec["high"]
        middle = (low * high) ** 0.5 if spec.get("log") else (low + high) / 2
        points[name] = [low, type(low)(middle) if isinstance(low, int) else middle, high]
    return points


def sampler(settings: Tune, space: dict[str, dict[str, Any]], worker: int) -> optuna.samplers.BaseSampler:
    # workers, and runners on other machines ($RETRAIN_TUNE_RUNNER), must not propose the same startup trials
    seed = settings.seed + worker + 1000 * int(os.environ.get("RETRAIN_TUNE_RUNNER") or 0)
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if settings.sampler == "grid":
        return optuna.samplers.GridSampler(grid(space), seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def study_name(settings: Tune, train: Train, data_md5: str, domain: Domain) -> str:
    """The study's name: the same inputs (data, search settings, fixed params and the domain's settings, which hold
    the Pipeline's cleaning) always name the same study."""
    search = settings.model_dump(exclude={"enabled", "workers", "threads"})  # how many search, not what
    inputs = json.dumps([data_md5, search, train.model_dump(), domain.config.model_dump()], sort_keys=True)
    return f"{settings.study}-{hashlib.md5(inputs.encode()).hexdigest()[:10]}"


def storage_url(root: Path) -> str:
    return os.environ.get("RETRAIN_TUNE_STORAGE") or f"sqlite:///{(root / 'tuning' / 'optuna.db').resolve()}"


def _storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine)
        except sqlalchemy.exc.SQLAlchemyError:  # runners starting at once race to create a new database's tables
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _objective(frame: pd.DataFrame, train: Train, settings: Tune, domain: Domain) -> Callable[[optuna.Trial], float]:
    features, target = frame[list(domain.features)], frame[domain.target].to_numpy()
    splits = list(folds(frame, settings.folds, domain))
    score = METRICS[settings.metric]
    space = settings.space.get(train.estimator, {})

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker_pid", os.getpid())
        hyperparameters = train.estimator_params() | suggest(trial, space)
        scores: list[float] = []
        for step, (fit, validate) in enumerate(splits):
            model = build(domain, train.estimator, hyperparameters, train.seed)
            model.fit(features[fit], target[fit])
            scores.append(float(score(target[validate], model.predict_proba(features[validate])[:, 1])))
            trial.report(float(np.mean(scores)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(scores))

    return objective


def pruner(settings: Tune) -> optuna.pruners.BasePruner:
    """The median pruner after 5 trials when `tune.pruning` is on, else none."""
    return optuna.pruners.MedianPruner(n_startup_trials=5) if settings.pruning else optuna.pruners.NopPruner()


def work(
    url: str, name: str, train_path: Path, train: Train, settings: Tune, domain: Domain, worker: int, threads: int
) -> int:
    """One worker: add trials to the study until it holds `settings.trials` finished ones (or time is up)."""
    use(domain)  # a spawned process: the Pipeline's domain steps run this one
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = settings.space.get(train.estimator, {})
    # the pruner is not stored with the study: without it, load_study gave every worker Optuna's default
    # MedianPruner, which pruned trials with tune.pruning off
    study = optuna.load_study(
        study_name=name, storage=_storage(url), sampler=sampler(settings, space, worker), pruner=pruner(settings)
    )
    frame = files.read_frame(train_path)
    done = optuna.study.MaxTrialsCallback(settings.trials, states=FINISHED)
    with threadpool_limits(threads):
        study.optimize(
            _objective(frame, train, settings, domain),
            n_trials=settings.trials,
            timeout=settings.timeout,
            callbacks=[done],
            gc_after_trial=False,
        )
    return worker


def tune(root: Path, train_path: Path, train: Train, settings: Tune, domain: Domain, workers: int) -> optuna.Study:
    """Run (or resume, or find done) the study of these inputs with `workers` processes; the study."""
    url, name = storage_url(root), study_name(settings, train, files.md5(train_path), domain)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        storage=_storage(url), study_name=name, direction="maximize", pruner=pruner(settings), load_if_exists=True
    )
    finished = sum(trial.state in FINISHED for trial in study.trials)
    threads = settings.threads or max(1, (os.cpu_count() or 1) // workers)
    started = time.perf_counter()
    if finished < settings.trials:
        log.info("tune: study %s has %d of %d trials; %d worker(s)", name, finished, settings.trials, workers)
        # worker 0 is this process (already warm); the others are fresh processes on the same study
        with ProcessPoolExecutor(max(1, workers - 1), mp_context=get_context("spawn")) as pool:
            args = (url, name, train_path, train, settings, domain)
            jobs = [pool.submit(work, *args, i, threads) for i in range(1, workers)]
            work(*args, 0, threads)
            for job in jobs:
                job.result()
        study.set_user_attr("seconds", round(time.perf_counter() - started, 2))
    return optuna.load_study(study_name=name, storage=_storage(url))


def summary(study: optuna.Study, train: Train, settings: Tune) -> Tuning:
    """tuning/best.json: what train uses, and how the search went."""
    states = [trial.state for trial in study.trials]
    return Tuning(
        tuned=True,
        estimator=train.estimator,
        hyperparameters=study.best_params,
        metric=settings.metric,
        best_value=round(study.best_value, 6),
        best_trial=study.best_trial.number,
        trials={state.name.lower(): states.count(state) for state in optuna.trial.TrialState if state in states},
        sampler=settings.sampler,
        study=study.study_name,
        seconds=study.user_attrs.get("seconds"),
        importance=importance(study),
    )


def trials(study: optuna.Study) -> list[dict[str, Any]]:
    """tuning/trials.json: every trial, in order."""
    return [
        {
            "number": trial.number,
            "state": trial.state.name.lower(),
            "value": trial.value,
            "params": trial.params,
            "steps": len(trial.intermediate_values),
            "seconds": trial.duration.total_seconds() if trial.duration else None,
            "worker_pid": trial.user_attrs.get("worker_pid"),
        }
        for trial in study.trials
    ]


def importance(study: optuna.Study) -> dict[str, float]:
    """Parameter importance (Optuna's default evaluator) over the complete trials; empty when there are too few."""
    complete = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 3:
        return {}
    return {name: round(value, 4) for name, value in optuna.importance.get_param_importances(study).items()}


def run(params: Params, root: Path, workers: int | None = None) -> None:
    """Stage tune: search the hyperparameters with Optuna (when tune.enabled) and write the ones train uses."""
    paths, settings = params.paths, params.tune
    if not settings.enabled:
        Tuning(tuned=False, estimator=params.train.estimator, hyperparameters={}).write(paths.best_params)
        files.write_json([], paths.trials)
        log.info("tune: off (tune.enabled is false); train uses the fixed hyperparameters")
        return
    study = tune(root, paths.train, params.train, settings, load_domain(params), workers or settings.workers)
    best, tried = summary(study, params.train, settings), trials(study)
    best.write(paths.best_params)
    files.write_json(tried, paths.trials)
    tracking.log_study(root, params.tracking.experiment, best, tried)
    log.info(
        "tune: best trial %s of %d, %s %.4f: %s",
        best.best_trial,
        len(tried),
        settings.metric,
        best.best_value,
        best.hyperparameters,
    )
