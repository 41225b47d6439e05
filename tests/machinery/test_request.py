"""The service's request model and scoring frame, generated from the synthetic contract: a timestamp among the
inputs, a nullable category, a string key that identifies a record but never reaches the model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.pipeline import Pipeline

from retrain.domain import Domain
from retrain.pipeline.featurize import Split
from retrain.serving.request import PredictRequest, openapi, records_frame, request_model
from tests.synthetic import data


def parse(domain: Domain, records: list[dict[str, Any]], max_records: int = 100) -> PredictRequest:
    return request_model(max_records, domain).model_validate({"records": records})


@pytest.fixture
def records(split: Split, synthetic: Domain) -> list[dict[str, Any]]:
    return data.records(split.test.head(20), [*synthetic.features, "ticket"])


def test_valid_records_are_accepted_and_score_as_the_raw_rows(
    records: list[dict[str, Any]], split: Split, model: Pipeline, synthetic: Domain
) -> None:
    parsed = parse(synthetic, records).records_as_dicts()
    frame = records_frame(parsed, synthetic)
    assert list(frame.columns) == list(synthetic.features)  # the ticket identifies the record, the model never sees it
    assert frame["plan"].isna().sum() == sum(record["plan"] is None for record in records) > 0
    raw = split.test.head(20)[list(synthetic.features)]
    np.testing.assert_allclose(model.predict_proba(frame)[:, 1], model.predict_proba(raw)[:, 1], rtol=0, atol=0)


def test_a_record_may_omit_the_key_and_optional_values(records: list[dict[str, Any]], synthetic: Domain) -> None:
    record = {k: v for k, v in records[0].items() if k not in ("ticket", "plan", "account_age_days")}
    (parsed,) = parse(synthetic, [record]).records_as_dicts()
    assert (parsed["ticket"], parsed["plan"], parsed["account_age_days"]) == (None, None, None)


def test_raw_batch_columns_that_are_not_inputs_are_dropped(records: list[dict[str, Any]], synthetic: Domain) -> None:
    with_outcome = {**records[0], "resolution_hours": 3.5, "first_reply_minutes": 12.0}
    (parsed,) = parse(synthetic, [with_outcome]).records_as_dicts()
    assert set(parsed) == {*synthetic.features, "ticket"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"channel": "fax"}, "channel"),
        ({"plan": "gold"}, "plan"),
        ({"priority": None}, "priority"),
        ({"words": 0}, "words"),
        ({"words": 2.5}, "words"),
        ({"words": "12"}, "words"),
        ({"backlog": True}, "backlog"),
        ({"account_age_days": -1.0}, "account_age_days"),
        ({"ticket": "ticket-1"}, "ticket"),
        ({"opened_at": "yesterday"}, "opened_at"),
        ({"opened_at": "2024-03-09T10:00:00"}, "opened_at"),  # no zone: which day it was depends on one
        ({"agent": "kim"}, "agent"),
    ],
)
def test_a_bad_record_is_refused_naming_the_field(
    change: dict[str, Any], problem: str, records: list[dict[str, Any]], synthetic: Domain
) -> None:
    with pytest.raises(ValidationError) as error:
        parse(synthetic, [records[0], {**records[1], **change}])
    assert {e["loc"][:3] for e in error.value.errors()} == {("records", 1, problem)}


def test_a_request_holds_one_to_max_records(records: list[dict[str, Any]], synthetic: Domain) -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        parse(synthetic, [])
    with pytest.raises(ValidationError, match="at most 5 items"):
        parse(synthetic, records[:6], max_records=5)


def test_the_openapi_body_is_the_synthetic_contract(synthetic: Domain) -> None:
    document = openapi(synthetic)
    record = document["requestBody"]["content"]["application/json"]["schema"]["properties"]["records"]["items"]
    assert set(record["properties"]) == {*synthetic.features, "ticket"}
    assert set(record["required"]) == {"opened_at", "channel", "priority", "words", "backlog"}
    assert (
        "tickets"
        in document["requestBody"]["content"]["application/json"]["schema"]["properties"]["records"]["description"]
    )


def test_a_time_in_any_zone_is_the_same_instant(
    records: list[dict[str, Any]], model: Pipeline, synthetic: Domain
) -> None:
    tokyo = {**records[0], "opened_at": "2024-03-09T10:00:00+09:00"}
    utc = {**records[0], "opened_at": "2024-03-09T01:00:00Z"}
    frame = records_frame(parse(synthetic, [tokyo, utc]).records_as_dicts(), synthetic)
    assert frame["opened_at"].tolist() == [pd.Timestamp("2024-03-09 01:00", tz="UTC")] * 2
    assert model[:2].transform(frame)["local_hour"].tolist() == [10.0, 10.0]
