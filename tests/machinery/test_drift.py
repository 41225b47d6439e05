"""drift on the synthetic features: KS for the numbers, chi-square for the categories (a nullable one among them)."""

from __future__ import annotations

import pandas as pd

from retrain.domain import Domain
from retrain.params import Params
from retrain.pipeline import drift
from retrain.pipeline.featurize import Split


def test_drift_compares_every_feature_but_the_excluded_timestamp(
    split: Split, synthetic_params: Params, synthetic: Domain
) -> None:
    features = drift.compared(synthetic, synthetic_params.drift)
    assert features == ["channel", "priority", "plan", "words", "backlog", "account_age_days"]
    result = drift.drift(split.train, split.test, synthetic_params.drift, features)
    tests = {row.feature: row.test for row in result.features}
    assert tests == {
        "channel": "chi-square",
        "priority": "chi-square",
        "plan": "chi-square",
        "words": "ks",
        "backlog": "ks",
        "account_age_days": "ks",
    }
    assert (result.reference_rows, result.current_rows) == (len(split.train), len(split.test))
    assert not result.dataset_drift, result.summary  # the same generator every day
    plan = next(row for row in result.features if row.feature == "plan")
    assert {shares.bin for shares in plan.bins} == {"free", "pro", "enterprise", "(missing)"}


def test_a_shifted_channel_mix_and_backlog_are_drift(split: Split, synthetic_params: Params) -> None:
    current = split.test.copy()
    current["channel"] = pd.array(["chat"] * len(current), dtype="str")
    current["backlog"] = current["backlog"] + 60
    result = drift.drift(split.train, current, synthetic_params.drift, ["channel", "priority", "backlog", "words"])
    assert sorted(result.drifted_features) == ["backlog", "channel"]
    assert result.dataset_drift
