"""The one Pipeline: it reads only schedule-time features, scores raw rows, and survives a save and a load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from retrain import pipeline
from retrain.domain import Domain
from retrain.domain.nycflights import features, schema
from retrain.io import files, modelfile
from retrain.params import Train
from retrain.pipeline import featurize


@pytest.fixture(scope="module")
def frame(domain: Domain) -> pd.DataFrame:
    from retrain.domain.nycflights import data as nycflights

    flights = nycflights.flights(2013, 2).head(3000)
    joined = features.join_weather(flights, nycflights.weather())
    return featurize.label(joined, domain)[0]


@pytest.fixture(scope="module", params=["hist_gradient_boosting", "logistic_regression"])
def fitted(request: pytest.FixtureRequest, frame: pd.DataFrame, domain: Domain) -> Pipeline:
    from retrain.pipeline.train import train

    hyperparameters = {"hist_gradient_boosting": {"max_iter": 20}, "logistic_regression": {"max_iter": 200}}
    params = Train(estimator=request.param, seed=0, hyperparameters=hyperparameters)
    return train(frame, params, domain)


def test_no_feature_known_only_after_departure_reaches_the_model(fitted: Pipeline, frame: pd.DataFrame) -> None:
    assert not set(schema.FEATURES) & set(schema.LEAKY)
    assert list(fitted.feature_names_in_) == list(schema.FEATURES)
    scrambled = frame.copy()
    rng = np.random.default_rng(0)
    for name in schema.LEAKY:
        scrambled[name] = rng.permutation(scrambled[name].to_numpy())
    scrambled["arr_delay"] = 999.0
    np.testing.assert_array_equal(fitted.predict_proba(frame), fitted.predict_proba(scrambled))


def test_the_pipeline_scores_raw_rows_with_only_the_contract_columns(fitted: Pipeline, frame: pd.DataFrame) -> None:
    raw = frame[list(schema.FEATURES)].head(5)
    proba = fitted.predict_proba(raw)[:, 1]
    assert proba.shape == (5,) and ((proba > 0) & (proba < 1)).all()


def test_unknown_categories_and_missing_weather_still_score(fitted: Pipeline, frame: pd.DataFrame) -> None:
    row = frame[list(schema.FEATURES)].head(1).copy()
    row["dest"], row["carrier"] = "ZZZ", "Q9"
    row[list(schema.WEATHER_FEATURES)] = np.nan
    assert np.isfinite(fitted.predict_proba(row)).all()


def test_derived_features() -> None:
    raw = pd.DataFrame(
        {
            "year": [2013],
            "month": [1],
            "day": [7],
            "sched_dep_time": [1345],
            "sched_arr_time": [5],
            "distance": [100],
            "carrier": ["UA"],
            "origin": ["EWR"],
            "dest": ["ORD"],
            **{name: [1.0] for name in schema.WEATHER_FEATURES},
        }
    )
    derived = pipeline.derive_features(raw).iloc[0]
    assert derived["day_of_week"] == 0  # 2013-01-07 was a Monday
    assert (derived["dep_hour"], derived["dep_minute_of_day"], derived["arr_minute_of_day"]) == (13, 825, 5)


def test_save_and_load_give_the_same_predictions_and_the_same_bytes(
    fitted: Pipeline, frame: pd.DataFrame, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.skops", tmp_path / "b.skops"
    modelfile.save(fitted, first)
    modelfile.save(fitted, second)
    assert files.md5(first) == files.md5(second)
    loaded = modelfile.load(first)
    np.testing.assert_array_equal(loaded.predict_proba(frame), fitted.predict_proba(frame))


def _unknown_function(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def test_a_model_with_an_untrusted_type_is_refused(tmp_path: Path) -> None:
    from sklearn.preprocessing import FunctionTransformer

    model = Pipeline([("odd", FunctionTransformer(_unknown_function))])
    with pytest.raises(TypeError, match=r"not in modelfile.TRUSTED_TYPES.*_unknown_function"):
        modelfile.save(model, tmp_path / "model.skops")
    assert not (tmp_path / "model.skops").exists()


def test_an_impossible_reading_is_scored_as_missing_inside_the_pipeline(fitted: Pipeline, frame: pd.DataFrame) -> None:
    """The cleaning that training applies is the Pipeline's first step: whoever calls it (the service, evaluate) scores
    a 1,048 mph wind exactly as training saw it, as a missing reading."""
    rows = frame[list(schema.FEATURES)].head(50).copy()
    impossible = rows.assign(wind_speed=1048.4, wind_gust=1200.0)
    missing = rows.assign(wind_speed=np.nan, wind_gust=np.nan)
    np.testing.assert_array_equal(fitted.predict_proba(impossible), fitted.predict_proba(missing))
    assert list(fitted.named_steps) == ["clean", "features", "encode", "model"]
