"""The synthetic domain's params, data and model, and the process's active domain: the synthetic one during each
test here, and whatever it was before (the example's, for the tests that share this process) once it is over."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

import retrain.domain
from retrain.domain import Domain, load_domain
from retrain.params import DomainSection, Featurize, Params, load
from retrain.pipeline import featurize, train, validate
from retrain.pipeline.featurize import Split
from tests.support import ROOT
from tests.synthetic import data

FIRST_DAY, DAYS = "2024-03-01", 10  # Friday 1 to Sunday 10 March 2024: two weekends
SETTINGS = {"slow_hours": 24.0, "max_backlog": 5000}


@contextmanager
def activated(domain: Domain | None = None) -> Iterator[None]:
    """`domain` (if given) is the process's active domain inside the block; the one before it is after (none too)."""
    before = retrain.domain._active
    if domain is not None:
        retrain.domain.use(domain)
    try:
        yield
    finally:
        retrain.domain._active = before


def params_for(base: Params) -> Params:
    """The repository's params.yaml with its domain-specific sections set for the synthetic tickets."""
    return base.model_copy(
        update={
            "domain": DomainSection(module="tests.synthetic.domain", settings=SETTINGS),
            "validate_": base.validate_.model_copy(
                update={
                    "min_rows": 100,
                    "max_null_rate": {
                        "plan": 0.2,
                        "account_age_days": 0.2,
                        "first_reply_minutes": 0.1,
                        "resolution_hours": 0.1,
                    },
                    "positive_share": (0.1, 0.7),
                    "examples": 3,
                }
            ),
            "featurize": Featurize(test_periods=2, train_periods=None),
            "tune": base.tune.model_copy(update={"folds": 2, "study": "tickets"}),
            "train": base.train.model_copy(
                update={
                    "estimator": "hist_gradient_boosting",
                    "hyperparameters": {
                        "hist_gradient_boosting": {"max_iter": 60, "max_leaf_nodes": 15, "early_stopping": False},
                        "logistic_regression": {"C": 1.0, "max_iter": 500},
                    },
                }
            ),
            "evaluate": base.evaluate.model_copy(
                update={"slices": ("channel", "priority", "plan"), "min_slice_rows": 100}
            ),
            "compare": base.compare.model_copy(update={"slices": ("channel", "priority")}),
            "drift": base.drift.model_copy(update={"exclude": ()}),  # the time, a model input, is never compared
            "gate": base.gate.model_copy(update={"min_slice_rows": 50, "min_test_rows": 100}),
            "monitor": base.monitor.model_copy(update={"min_predictions": 200, "min_labelled": 100}),
            "tracking": base.tracking.model_copy(update={"experiment": "tickets", "registered_model": "tickets"}),
        }
    )


@pytest.fixture(scope="session")
def synthetic_params() -> Params:
    """The synthetic params, checked as params.yaml is (what a fork would write)."""
    return Params.model_validate(params_for(load(ROOT / "params.yaml")).model_dump(mode="json", by_alias=True))


@pytest.fixture(scope="session")
def synthetic(synthetic_params: Params) -> Domain:
    """The synthetic domain with its settings, as `load_domain` gives it (which leaves it active: undone here)."""
    with activated():
        return load_domain(synthetic_params)


@pytest.fixture(autouse=True)
def _synthetic_is_active(synthetic: Domain) -> Iterator[None]:
    """What a fitted Pipeline's steps run (`retrain.pipeline.derive_features`) during each test here."""
    with activated(synthetic):
        yield


@pytest.fixture(scope="session")
def batches() -> dict[str, pd.DataFrame]:
    """Ten daily batches by landing file, oldest first."""
    return {f"data/landing/{day}.parquet": data.batch(day) for day in data.days(FIRST_DAY, DAYS)}


@pytest.fixture(scope="session")
def tickets(batches: dict[str, pd.DataFrame], synthetic: Domain) -> pd.DataFrame:
    """The batches as validate writes them: one frame in time order."""
    return validate.combine(batches, synthetic)


@pytest.fixture(scope="session")
def split(tickets: pd.DataFrame, synthetic_params: Params, synthetic: Domain) -> Split:
    return featurize.featurize(tickets, {}, synthetic_params.featurize, synthetic)


@pytest.fixture(scope="session")
def model(split: Split, synthetic_params: Params, synthetic: Domain) -> Pipeline:
    """The Pipeline fitted on the training window (8 days); session fixtures run before the autouse one."""
    with activated(synthetic):
        return train.train(split.train, synthetic_params.train, synthetic)
