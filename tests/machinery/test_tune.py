"""tune on the synthetic domain with two workers: the Domain (its functions in tests.synthetic.domain) is handed to a
spawned process, whose Pipelines run its cleaning and derived columns; folds are days."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrain.domain import Domain
from retrain.io import files
from retrain.params import Params
from retrain.pipeline import tune
from retrain.pipeline.featurize import Split


def test_two_workers_share_one_study_of_daily_folds(
    tmp_path: Path, split: Split, synthetic_params: Params, synthetic: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RETRAIN_TUNE_STORAGE", raising=False)
    monkeypatch.delenv("RETRAIN_TUNE_RUNNER", raising=False)
    train_path = tmp_path / "train.parquet"
    files.write_frame(split.train, train_path)
    train = synthetic_params.train.model_copy(
        update={"hyperparameters": {"hist_gradient_boosting": {"max_iter": 20, "early_stopping": False}}}
    )
    settings = synthetic_params.tune.model_copy(
        update={
            "enabled": True,
            "sampler": "random",
            "trials": 4,
            "pruning": False,
            "space": {"hist_gradient_boosting": {"learning_rate": {"low": 0.05, "high": 0.3, "log": True}}},
        }
    )
    study = tune.tune(tmp_path, train_path, train, settings, synthetic, workers=2)
    tried = tune.trials(study)
    assert sum(trial["state"] == "complete" for trial in tried) >= 4
    assert all(trial["steps"] == 2 for trial in tried)  # one per daily fold
    assert len({trial["worker_pid"] for trial in tried}) == 2 and os.getpid() in {t["worker_pid"] for t in tried}
    best = tune.summary(study, train, settings)
    assert best.best_value is not None and best.best_value > 0.7
