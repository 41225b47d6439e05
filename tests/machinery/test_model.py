"""train, evaluate and the model file on the synthetic domain: the Pipeline runs the domain's cleaning and derived
columns, learns the signal, reports slices of its categories in its own words, and survives skops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from retrain.domain import Domain
from retrain.io import modelfile
from retrain.params import Params
from retrain.pipeline import evaluate, featurize, train
from retrain.pipeline.featurize import Split
from tests.synthetic.data import BROKEN_COUNTER


def test_the_pipeline_runs_the_domains_steps(model: Pipeline, split: Split, synthetic: Domain) -> None:
    rows = split.test[list(synthetic.features)]
    cleaned = model.named_steps["clean"].transform(rows)
    broken = rows["backlog"] == BROKEN_COUNTER
    assert broken.any() and cleaned.loc[broken, "backlog"].isna().all()  # max_backlog: 5000
    derived = model[:2].transform(rows)
    assert list(derived.columns) == [*synthetic.numeric, *synthetic.categorical]
    assert (
        derived["local_hour"].tolist() == rows["opened_at"].dt.tz_convert("Asia/Tokyo").dt.hour.astype(float).tolist()
    )
    assert set(derived["weekend"]) == {1.0}  # the test window is a Saturday and a Sunday
    assert derived["plan"].dtype == object and derived["plan"].isna().any()
    assert list(model.named_steps["model"].feature_names_in_) == [*synthetic.categorical, *synthetic.numeric]


def test_evaluate_reports_metrics_slices_and_confusion_in_the_domains_words(
    model: Pipeline, split: Split, synthetic_params: Params, synthetic: Domain
) -> None:
    result = evaluate.evaluate(model, split.test, synthetic_params.evaluate, synthetic)
    metrics = result.metrics
    assert metrics["roc_auc"] > 0.75, metrics
    assert metrics["test_rows"] == len(split.test)
    assert metrics["test_positive_share"] == round(float(split.test["slow"].mean()), 4)
    assert 0 < metrics["pr_auc"] <= 1 and metrics["log_loss"] > 0

    slices = {(row["slice"], row["value"]): row for row in result.slices}
    expected = {("channel", c) for c in ("email", "phone", "chat", "web")}
    expected |= {("priority", p) for p in ("low", "normal", "high", "urgent")}
    expected |= {("plan", p) for p in ("free", "pro", "enterprise")}  # tickets without a plan are no slice
    assert set(slices) == expected
    assert slices["channel", "email"]["rows"] == int((split.test["channel"] == "email").sum())
    assert "roc_auc" in slices["channel", "email"]  # >= min_slice_rows (100)
    small = [row for row in result.slices if row["rows"] < 100]
    assert small and all("roc_auc" not in row for row in small)

    confusion = result.curves["confusion"]
    assert set(confusion["actual"]) == set(confusion["predicted"]) == {"quick", "slow"}
    assert confusion["count"].sum() == len(split.test)
    assert confusion.loc[confusion["actual"] == "slow", "count"].sum() == int(split.test["slow"].sum())


def test_logistic_regression_fits_the_same_domain(split: Split, synthetic_params: Params, synthetic: Domain) -> None:
    settings = synthetic_params.train.model_copy(update={"estimator": "logistic_regression"})
    linear = train.train(split.train, settings, synthetic)
    result = evaluate.evaluate(linear, split.test, synthetic_params.evaluate, synthetic)
    assert result.metrics["roc_auc"] > 0.7, result.metrics


def test_metadata_names_the_domains_features_target_and_window(
    split: Split, synthetic_params: Params, synthetic: Domain
) -> None:
    training = featurize.window([featurize.summary(split.train, synthetic)])
    meta = train.metadata(training, synthetic_params.train, "0" * 32, synthetic)
    assert (meta["features"], meta["target"]) == (list(synthetic.features), "slow")
    assert pd.Timestamp(meta["training_window"]["last"]) == split.train["opened_at"].max()


def test_the_skops_file_loads_and_scores_identically(
    model: Pipeline, split: Split, tmp_path: Path, synthetic: Domain
) -> None:
    path = tmp_path / "model.skops"
    modelfile.save(model, path)
    loaded = modelfile.load(path)
    rows = split.test[list(synthetic.features)]
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
    modelfile.save(loaded, tmp_path / "again.skops")
    assert (tmp_path / "again.skops").read_bytes() == path.read_bytes()  # the bytes are the model's alone
