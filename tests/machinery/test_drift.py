"""drift on the synthetic features: KS for the numbers, chi-square for the categories (a nullable one among them)."""

from __future__ import annotations

import math

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
        "plan": "chi-square + missing",  # nullable: present against missing is tested too
        "words": "ks",
        "backlog": "ks",
        "account_age_days": "ks + missing",
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


def test_the_time_column_is_never_compared_and_another_time_is_compared_as_a_number(
    split: Split, synthetic_params: Params, synthetic: Domain
) -> None:
    """A time split moves the batch's time by construction, so drift never compares it (even when drift.exclude
    forgets it); any other time is a number to KS and PSI, not ten thousand categories to chi-square."""
    forgetful = synthetic_params.drift.model_copy(update={"exclude": ()})
    assert "opened_at" not in drift.compared(synthetic, forgetful)
    train, test = split.train.copy(), split.test.copy()
    train["due_at"] = train["opened_at"] + pd.Timedelta(hours=24)
    test["due_at"] = test["opened_at"] + pd.Timedelta(hours=24)
    result = drift.drift(train, test, forgetful, ["due_at", "words"])
    due = next(row for row in result.features if row.feature == "due_at")
    assert due.test == "ks" and due.p_value < 0.05 and due.psi > 1  # the test window is later: that is drift
    test.loc[test.index[::2], "due_at"] = pd.NaT  # no due time known: missing, not a crash
    assert drift.drift(train, test, forgetful, ["due_at"]).features[0].test == "ks + missing"


def test_a_feature_that_stops_arriving_or_goes_missing_more_often_is_drift(
    split: Split, synthetic_params: Params
) -> None:
    """What a client that stops sending a field does: every value missing (nothing left to compare, which must not
    crash), or a far larger share missing while the values that do arrive look as before."""
    current = split.test.copy()
    current["plan"] = pd.array([None] * len(current), dtype="str")
    current["account_age_days"] = float("nan")
    current.loc[current.index[: len(current) * 3 // 5], "backlog"] = float("nan")  # 60 % missing, was none
    features = ["plan", "account_age_days", "backlog", "words"]
    result = drift.drift(split.train, current, synthetic_params.drift, features)
    assert sorted(result.drifted_features) == ["account_age_days", "backlog", "plan"], result.features
    assert all(math.isfinite(row.statistic) and math.isfinite(row.p_value) for row in result.features)
    same = drift.drift(split.train, split.test, synthetic_params.drift, features)
    assert not same.drifted_features  # the nulls the generator makes every day are no drift
