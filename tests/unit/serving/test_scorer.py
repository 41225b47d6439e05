"""The service's Scorer: compiled trees only where they give the Pipeline's numbers, else the Pipeline itself."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from retrain.serving.scorer import Scorer


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    generator = np.random.default_rng(0)
    x = pd.DataFrame({"a": generator.normal(size=600), "b": generator.normal(size=600)})
    x.loc[::7, "b"] = np.nan  # missing values take the trees' learned branch
    return x.assign(y=(x["a"] + x["b"].fillna(0) + generator.normal(scale=0.5, size=600) > 0).astype(int))


def test_boosted_trees_are_compiled_and_score_as_the_pipeline(frame: pd.DataFrame) -> None:
    model = Pipeline([("model", HistGradientBoostingClassifier(max_iter=30))]).fit(frame[["a", "b"]], frame["y"])
    scorer = Scorer(model, frame[["a", "b"]].head(20))
    assert scorer.compiled
    rows = frame[["a", "b"]].iloc[100:300]
    np.testing.assert_allclose(scorer(rows), model.predict_proba(rows)[:, 1], rtol=0, atol=1e-9)


def test_other_models_and_unchecked_trees_are_scored_by_the_pipeline(
    frame: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    linear = Pipeline([("model", LogisticRegression())]).fit(frame[["a"]], frame["y"])
    scorer = Scorer(linear, frame[["a"]].head(20))
    assert not scorer.compiled
    np.testing.assert_array_equal(scorer(frame[["a"]]), linear.predict_proba(frame[["a"]])[:, 1])
    trees = Pipeline([("model", HistGradientBoostingClassifier(max_iter=5))]).fit(frame[["a", "b"]], frame["y"])
    with caplog.at_level(logging.WARNING):
        assert not Scorer(trees, None).compiled
    assert "no check rows" in caplog.text
