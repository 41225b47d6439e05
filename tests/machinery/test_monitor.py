"""Monitoring on the synthetic domain: inference-log lines that carry the string key among the features, late labels
joined by it, the live ROC AUC judged; and the service's log writer, whose records `parse_log` reads back."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from retrain.domain import Domain
from retrain.monitoring import monitor
from retrain.params import Params
from retrain.pipeline import evaluate
from retrain.pipeline.featurize import Split
from retrain.results import MonitorVerdict
from retrain.serving.inference_log import InferenceLog
from retrain.serving.request import request_model
from tests.synthetic import data

NOW = pd.Timestamp("2024-03-11 12:00", tz="UTC")  # the day after the test window: traffic scored in the last day


def log_lines(model: Pipeline, rows: pd.DataFrame, domain: Domain) -> list[str]:
    """The service's log of these rows, scored by the model in the seconds before NOW: inputs and label key."""
    probabilities = evaluate.predict(model, rows, domain)
    return data.log_lines(rows, probabilities, [*domain.features, *domain.label_key], NOW)


@pytest.fixture
def traffic(model: Pipeline, tickets: pd.DataFrame, synthetic: Domain) -> pd.DataFrame:
    """The last two days' tickets, open ones included, as the service logged them."""
    rows = tickets[tickets["opened_at"] >= pd.Timestamp("2024-03-08 15:00", tz="UTC")].reset_index(drop=True)
    frame, malformed = monitor.parse_log(log_lines(model, rows, synthetic), synthetic)
    assert malformed == 0
    return frame


def check(traffic: pd.DataFrame, labels: list[str], split: Split, params: Params, domain: Domain) -> MonitorVerdict:
    labelled, malformed = monitor.parse_labels(labels, domain)
    assert malformed == 0
    last = split.train["opened_at"].max()
    return monitor.monitor(
        traffic, labelled, split.train, {"roc_auc": 0.8}, last, NOW, params.monitor, params.drift, domain
    )


def test_parse_log_types_the_inputs_and_the_key(traffic: pd.DataFrame, tickets: pd.DataFrame) -> None:
    assert traffic["ticket"].str.fullmatch(r"T-2403(09|10)\d{4}").all()
    assert traffic["words"].dtype == "float64" and traffic["account_age_days"].isna().any()
    assert traffic["plan"].isna().any() and set(traffic["plan"].dropna()) == {"free", "pro", "enterprise"}
    assert isinstance(traffic["opened_at"].dtype, pd.DatetimeTZDtype) and str(traffic["opened_at"].dt.tz) == "UTC"
    assert len(traffic) == int((tickets["opened_at"] >= pd.Timestamp("2024-03-08 15:00", tz="UTC")).sum())


def test_late_labels_join_by_the_string_key_and_the_live_auc_is_judged(
    traffic: pd.DataFrame, tickets: pd.DataFrame, split: Split, synthetic_params: Params, synthetic: Domain
) -> None:
    resolved = tickets.set_index("ticket").loc[traffic["ticket"]].reset_index()
    labels = data.label_lines(resolved.iloc[::2])  # half the tickets have a label record, a few of them still open
    verdict = check(traffic, labels, split, synthetic_params, synthetic)
    performance = verdict.checks.performance
    assert performance is not None and performance.roc_auc is not None, verdict
    assert performance.labelled == int(resolved.iloc[::2]["resolution_hours"].notna().sum())
    assert performance.roc_auc > 0.75
    assert verdict.retrain is False, verdict.reasons
    assert verdict.checks.staleness.days == 1  # the newest ticket scored is a day after the training window
    drift = verdict.checks.drift
    assert drift is not None and set(drift.psi) == {
        "channel",
        "priority",
        "plan",
        "words",
        "backlog",
        "account_age_days",
    }


def test_labels_that_contradict_the_model_trigger_a_retrain(
    traffic: pd.DataFrame, tickets: pd.DataFrame, split: Split, synthetic_params: Params, synthetic: Domain
) -> None:
    resolved = tickets.set_index("ticket").loc[traffic["ticket"]].reset_index()
    verdict = check(traffic, data.label_lines(resolved, flip=True), split, synthetic_params, synthetic)
    assert verdict.retrain is True
    assert verdict.reasons[0].startswith("live ROC AUC")


def test_labels_of_other_tickets_join_nothing(
    traffic: pd.DataFrame, split: Split, synthetic_params: Params, synthetic: Domain
) -> None:
    labels = [json.dumps({"ticket": f"T-2403120{n:03d}", "resolution_hours": 1.0}) for n in range(300)]
    labels += ['{"ticket": "T-2403100001"}', "not json"]  # no outcome, and garbage: malformed
    labelled, malformed = monitor.parse_labels(labels, synthetic)
    assert (len(labelled), malformed) == (300, 2)
    verdict = monitor.monitor(
        traffic, labelled, split.train, {"roc_auc": 0.8}, split.train["opened_at"].max(), NOW,
        synthetic_params.monitor, synthetic_params.drift, synthetic,
    )  # fmt: skip
    performance = verdict.checks.performance
    assert performance is not None and performance.labelled == 0
    assert "joined 0 of" in str(performance.note) and "by ticket" in str(performance.note)


def test_the_inference_log_writes_records_that_parse_log_reads_back(
    tmp_path: Path, split: Split, model: Pipeline, synthetic: Domain
) -> None:
    """The service's path: records checked by the request model, scored, logged by the writer, read by monitor."""
    rows = split.test.head(30)
    raw: list[dict[str, Any]] = data.records(rows, [*synthetic.features, "ticket"])
    records = request_model(100, synthetic).model_validate({"records": raw}).records_as_dicts()
    probabilities = evaluate.predict(model, rows, synthetic)
    log = InferenceLog(tmp_path / "log", max_bytes=10**6, sample=1.0)
    log.write("req-1", "b" * 32, records, probabilities, None)
    log.close()
    assert not log.dropped
    lines = [line for path in sorted((tmp_path / "log").glob("*.jsonl")) for line in path.read_text().splitlines()]
    traffic, malformed = monitor.parse_log(lines, synthetic)
    assert (len(traffic), malformed) == (30, 0)
    assert traffic["ticket"].tolist() == rows["ticket"].tolist()
    assert traffic["request_id"].tolist() == [f"req-1/{n}" for n in range(30)]
    np.testing.assert_array_equal(traffic["probability"].to_numpy(), probabilities)
    opened = pd.to_datetime(traffic["opened_at"], utc=True)
    assert opened.tolist() == rows["opened_at"].tolist()
    assert traffic["plan"].isna().tolist() == rows["plan"].isna().tolist()


def test_a_domain_whose_time_is_no_input_judges_staleness_by_when_rows_were_scored(
    traffic: pd.DataFrame, split: Split, synthetic_params: Params, synthetic: Domain
) -> None:
    """Most models do not read their row's time: the log then holds no `Domain.time`, and staleness falls back on
    the time each row was scored."""
    timeless = replace(synthetic, features=tuple(name for name in synthetic.features if name != "opened_at"))
    logged = traffic.drop(columns=["opened_at"])
    last = split.train["opened_at"].max()
    verdict = monitor.monitor(
        logged, logged.iloc[0:0], split.train, {"roc_auc": 0.8}, last, NOW,
        synthetic_params.monitor, synthetic_params.drift, timeless,
    )  # fmt: skip
    assert verdict.checks.staleness.newest_row == str(NOW)
    assert verdict.checks.staleness.days == (NOW - last).days
