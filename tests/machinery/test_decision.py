"""The decision's statistics on the synthetic domain: champion and challenger compared on the test window, slices of
its categories, ROC AUC per day (cut in Tokyo)."""

from __future__ import annotations

import pandas as pd
from sklearn.pipeline import Pipeline

from retrain.decision import statistics
from retrain.domain import Domain
from retrain.params import Params
from retrain.pipeline import evaluate, train
from retrain.pipeline.featurize import Split


def test_champion_and_challenger_are_compared_by_slice_and_by_day(
    model: Pipeline, split: Split, synthetic_params: Params, synthetic: Domain
) -> None:
    early = split.train[split.train["opened_at"] < pd.Timestamp("2024-03-04 15:00", tz="UTC")]  # Tokyo's 1-4 March
    champion = train.train(early, synthetic_params.train, synthetic)
    test, y = split.test, split.test["slow"].to_numpy()
    before, after = evaluate.predict(champion, test, synthetic), evaluate.predict(model, test, synthetic)
    metrics = evaluate.evaluate(model, test, synthetic_params.evaluate, synthetic).metrics
    params = synthetic_params.compare.model_copy(update={"bootstrap_resamples": 200})
    result = statistics.compare(test, y, before, after, metrics, params, synthetic_params.gate, 0.3)
    assert {(row.slice, row.value) for row in result.slices} == {
        *(("channel", value) for value in ("chat", "email", "phone", "web")),
        *(("priority", value) for value in ("high", "low", "normal", "urgent")),
    }
    assert any(check.rule == "roc_auc delta" for check in result.checks)
    assert result.mcnemar is not None and not result.first_model
    assert -1 < result.comparison["roc_auc"].delta < 1

    windows = {
        "champion": (str(early["opened_at"].min()), str(early["opened_at"].max())),
        "challenger": (str(split.train["opened_at"].min()), str(split.train["opened_at"].max())),
    }
    everything = pd.concat([split.train, split.test], ignore_index=True)
    fitted = {"champion": champion, "challenger": model}
    scored = {name: evaluate.predict(pipeline, everything, synthetic) for name, pipeline in fitted.items()}
    by_day = statistics.metric_by_period(everything, scored, windows, synthetic)
    assert sorted(by_day["period"].unique()) == [f"2024-03-{d:02d}" for d in range(1, 11)]
    inside = by_day[by_day["in_sample"]].groupby("model")["period"].agg(list).to_dict()
    assert inside == {
        "champion": [f"2024-03-{d:02d}" for d in range(1, 5)],
        "challenger": [f"2024-03-{d:02d}" for d in range(1, 9)],
    }
