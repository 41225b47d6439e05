"""The search's pieces: time-ordered folds, the search space, study names, and how train takes the result."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest

from retrain.domain import Domain
from retrain.params import Params
from retrain.pipeline import tune
from retrain.results import Tuning

SPACE: dict[str, dict[str, Any]] = {
    "learning_rate": {"low": 0.02, "high": 0.3, "log": True},
    "max_iter": {"low": 50, "high": 400, "step": 50},
    "l2_regularization": {"low": 0.0, "high": 5.0},
    "max_leaf_nodes": {"choices": [15, 31, 63]},
}


def _moved(january: pd.DataFrame, month: int) -> pd.DataFrame:
    """The January flights at the same local day and hour of another month (the 29th to 31st: its last day)."""
    local = january["time_hour"].dt.tz_convert("America/New_York").dt.tz_localize(None)
    moved = (local + pd.DateOffset(months=month - 1)).dt.tz_localize("America/New_York", nonexistent="shift_forward")
    return january.assign(month=month, time_hour=moved.dt.tz_convert("UTC"))


def test_folds_validate_on_later_months_than_they_fit_on(january: pd.DataFrame, domain: Domain) -> None:
    # folds read the batch period of the time column in New York: the evening of the 31st (UTC: the 1st) stays
    frame = pd.concat([_moved(january, m) for m in (1, 2, 3, 4)], ignore_index=True)
    assert (frame["time_hour"].dt.month != frame["month"]).any()
    splits = list(tune.folds(frame, 2, domain))
    assert len(splits) == 2
    for fit, validate in splits:
        assert not (fit & validate).any()
        assert frame.loc[fit, "month"].max() < frame.loc[validate, "month"].min()
    assert [sorted(frame.loc[v, "month"].unique()) for _, v in splits] == [[3], [4]]
    assert [sorted(frame.loc[f, "month"].unique()) for f, _ in splits] == [[1, 2], [1, 2, 3]]


def test_more_folds_than_months_allow_is_a_clear_error(january: pd.DataFrame, domain: Domain) -> None:
    with pytest.raises(ValueError, match=r"tune\.folds is 2 but the training window has 1 months"):
        list(tune.folds(january, 2, domain))


def test_suggestions_stay_in_their_ranges_and_types() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        values = tune.suggest(study.ask(), SPACE)
        assert 0.02 <= values["learning_rate"] <= 0.3 and isinstance(values["learning_rate"], float)
        assert values["max_iter"] in range(50, 401, 50) and isinstance(values["max_iter"], int)
        assert values["max_leaf_nodes"] in (15, 31, 63)


def test_the_grid_is_choices_or_low_middle_high() -> None:
    points = tune.grid(SPACE)
    assert points["max_leaf_nodes"] == [15, 31, 63]
    assert points["max_iter"] == [50, 225, 400]
    assert points["l2_regularization"] == [0.0, 2.5, 5.0]
    assert points["learning_rate"][1] == pytest.approx((0.02 * 0.3) ** 0.5)


def test_the_same_inputs_name_the_same_study_and_others_another(params: Params, domain: Domain) -> None:
    name = tune.study_name(params.tune, params.train, "abc", domain)
    how = params.tune.model_copy(update={"workers": 8, "threads": 1, "enabled": True})  # how, not what, to search
    assert name == tune.study_name(how, params.train, "abc", domain)
    assert name != tune.study_name(params.tune, params.train, "abd", domain)
    assert name != tune.study_name(params.tune.model_copy(update={"trials": 99}), params.train, "abc", domain)
    assert name != tune.study_name(params.tune, params.train.model_copy(update={"seed": 1}), "abc", domain)
    # the domain's settings hold the Pipeline's cleaning: another wind limit is another study
    calmer = replace(domain, config=domain.config.model_copy(update={"max_wind_speed": 50}))
    assert name != tune.study_name(params.tune, params.train, "abc", calmer)


def test_train_takes_the_tuned_values_only_from_a_tuning_of_its_estimator(params: Params) -> None:
    best = Tuning(tuned=True, estimator="hist_gradient_boosting", hyperparameters={"max_iter": 150})
    tuned = params.train.tuned(best).estimator_params()
    assert tuned == params.train.estimator_params() | {"max_iter": 150}
    assert params.train.tuned(best.model_copy(update={"tuned": False})) == params.train
    assert params.train.tuned(best.model_copy(update={"estimator": "logistic_regression"})) == params.train


def test_every_worker_prunes_as_the_params_say(
    params: Params, domain: Domain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Optuna does not store a study's pruner: a worker that loaded the study got Optuna's default MedianPruner and
    pruned trials with tune.pruning off (seen as 5 complete and 1 pruned trial of 6 under load)."""
    seen: list[type[optuna.pruners.BasePruner]] = []

    def objective(frame: pd.DataFrame, train: Any, settings: Any, domain: Domain) -> Any:
        def run(trial: optuna.Trial) -> float:
            seen.append(type(trial.study.pruner))
            return 0.5

        return run

    monkeypatch.setattr(tune, "_objective", objective)
    path = tmp_path / "train.parquet"
    pd.DataFrame({"month": [1]}).to_parquet(path)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    for pruning in (False, True):
        optuna.create_study(storage=url, study_name=f"s{pruning}", direction="maximize")
        settings = params.tune.model_copy(update={"pruning": pruning, "trials": 1})
        tune.work(url, f"s{pruning}", path, params.train, settings, domain, 0, 1)
    assert seen == [optuna.pruners.NopPruner, optuna.pruners.MedianPruner]
