"""validate on daily batches of tickets: a string key, days cut in Tokyo, a nullable category and outcome."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from retrain.domain import Domain
from retrain.io import files
from retrain.params import Params
from retrain.pipeline import validate
from retrain.results import Violation
from tests.synthetic import data

FILE = "data/landing/2024-03-05.parquet"
Mutation = Callable[[pd.DataFrame], pd.DataFrame]


@pytest.fixture
def day() -> pd.DataFrame:
    return data.batch("2024-03-05")


def _check(frame: pd.DataFrame, params: Params, domain: Domain, file: str = FILE) -> list[Violation]:
    return validate.check_batch(file, frame, params.validate_, domain)[0]


def test_good_daily_batches_pass_and_are_summarised(
    batches: dict[str, pd.DataFrame], synthetic_params: Params, synthetic: Domain
) -> None:
    report = validate.validate(batches, {}, synthetic_params.validate_, synthetic)
    assert report.passed, [v.message() for v in report.violations]
    assert [s.file for s in report.batches] == list(batches)
    first = report.batches[0]
    frame = batches[first.file]
    outcome = frame["resolution_hours"]
    assert first.unlabelled == int(outcome.isna().sum()) > 0
    assert first.positive_share == round(float((outcome > 24.0).sum() / outcome.count()), 4)


def test_a_day_is_cut_in_the_domains_zone(day: pd.DataFrame, synthetic_params: Params, synthetic: Domain) -> None:
    """The first tickets of 5 March in Tokyo were opened on 4 March in UTC: they belong to the batch all the same."""
    assert day["opened_at"].min() < pd.Timestamp("2024-03-05", tz="UTC")
    assert not _check(day, synthetic_params, synthetic)


def _duplicate(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[[7]]], ignore_index=True)


def _next_day(frame: pd.DataFrame) -> pd.DataFrame:
    # 16:00 UTC on 5 March is 01:00 on 6 March in Tokyo
    frame.loc[frame.index[-2:], "opened_at"] = pd.Timestamp("2024-03-05 16:00", tz="UTC")
    return frame


def _set(column: str, value: Any) -> Mutation:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame.index[:3], column] = value
        return frame

    return mutate


BAD: dict[str, tuple[Mutation, str, str, int]] = {  # mutation, column, rule, offending rows (0: the batch)
    "duplicate ticket": (_duplicate, "ticket", "key is unique", 2),
    "ticket opened on another day": (
        _next_day,
        "opened_at",
        "rows belong to the batch's day 2024-03-05 (Asia/Tokyo)",
        2,
    ),
    "words as float": (lambda f: f.assign(words=f["words"].astype("float64")), "words", "dtype must be int", 0),
    "ticket as a number": (lambda f: f.assign(ticket=np.arange(len(f))), "ticket", "dtype must be str", 0),
    "naive times as text": (
        lambda f: f.assign(opened_at=f["opened_at"].astype(str)),
        "opened_at",
        "dtype must be datetime",
        0,
    ),
    "unknown column": (lambda f: f.assign(agent="kim"), "agent", "unknown column", 0),
    "missing column": (lambda f: f.drop(columns=["priority"]), "priority", "required column is missing", 0),
    "unknown channel": (_set("channel", "fax"), "channel", "one of email, phone, chat, web", 3),
    "malformed ticket": (_set("ticket", "ticket-9"), "ticket", r"matches T-\d{10}", 3),
    "null priority": (_set("priority", None), "priority", "must not be null", 3),
    "negative backlog": (_set("backlog", -1), "backlog", ">= 0", 3),
    "too many nulls": (lambda f: f.assign(plan=None), "plan", "null rate <= 0.2", 0),
    "too few rows": (lambda f: f.head(50), "*", "at least 100 rows", 0),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_each_kind_of_bad_batch_names_file_column_and_rule(
    kind: str, day: pd.DataFrame, synthetic_params: Params, synthetic: Domain
) -> None:
    mutate, column, rule, rows = BAD[kind]
    violations = _check(mutate(day), synthetic_params, synthetic)
    matching = [v for v in violations if v.column == column and rule in v.rule]
    assert matching, f"{kind}: expected {column!r} ~{rule!r}, got {[v.message() for v in violations]}"
    assert matching[0].rows == rows
    message = matching[0].message()
    assert FILE in message and f"'{column}'" in message and rule in message


def test_offending_rows_are_quoted_by_their_ticket(
    day: pd.DataFrame, synthetic_params: Params, synthetic: Domain
) -> None:
    (violation,) = _check(_duplicate(day), synthetic_params, synthetic)
    assert [example["ticket"] for example in violation.examples] == [day["ticket"].iloc[7]] * 2
    (violation,) = _check(_next_day(day), synthetic_params, synthetic)
    assert {"row", "ticket", "opened_at"} <= set(violation.examples[0])


def test_the_positive_share_rule_uses_the_float_threshold_and_the_domains_words(
    day: pd.DataFrame, synthetic_params: Params, synthetic: Domain
) -> None:
    day["resolution_hours"] = day["resolution_hours"].where(day["resolution_hours"].isna(), 24.5)  # all just slow
    (violation,) = _check(day, synthetic_params, synthetic)
    assert (violation.column, violation.rule) == (
        "resolution_hours",
        "share of slow tickets within [0.1, 0.7], found 1.000",
    )
    day["resolution_hours"] = day["resolution_hours"].where(day["resolution_hours"].isna(), 24.0)  # not more than
    (violation,) = _check(day, synthetic_params, synthetic)
    assert violation.rule.endswith("found 0.000")


def test_the_file_name_sets_the_expected_day(day: pd.DataFrame, synthetic_params: Params, synthetic: Domain) -> None:
    violations = _check(day, synthetic_params, synthetic, file="data/landing/2024-03-06.parquet")
    assert [(v.column, v.rule, v.rows) for v in violations] == [
        ("opened_at", "rows belong to the batch's day 2024-03-06 (Asia/Tokyo)", len(day))
    ]


def test_daily_files_read_back_from_parquet_still_pass(
    tmp_path: Path, batches: dict[str, pd.DataFrame], synthetic_params: Params, synthetic: Domain
) -> None:
    """Landing files named by day are found, in order, and keep their dtypes through parquet (str, UTC times)."""
    landing = tmp_path / "landing"
    for name, frame in list(batches.items())[:2]:
        files.write_frame(frame, landing / Path(name).name)
    (landing / "notes.txt").write_text("not a batch")
    read = validate.read_batches(landing, synthetic)
    assert [Path(name).name for name in read] == ["2024-03-01.parquet", "2024-03-02.parquet"]
    report = validate.validate(read, {}, synthetic_params.validate_, synthetic)
    assert report.passed, [v.message() for v in report.violations]


def test_a_file_not_named_for_a_day_is_refused(tmp_path: Path, day: pd.DataFrame, synthetic: Domain) -> None:
    files.write_frame(day, tmp_path / "2024-03.parquet")
    with pytest.raises(
        files.InputError, match=r"batch files must be named YYYY-MM-DD\.parquet, found 2024-03\.parquet"
    ):
        validate.read_batches(tmp_path, synthetic)


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_batch_cut_into_partitions_gets_the_report_of_the_whole(
    kind: str, day: pd.DataFrame, synthetic_params: Params, synthetic: Domain
) -> None:
    """Per partition, then reduced: the same violations (counts, the first example rows by their row in the file, the
    order) and the same summary, whatever the partition size; a duplicate key split across two partitions too."""
    frame = BAD[kind][0](day.copy())
    whole = validate.check_batch(FILE, frame, synthetic_params.validate_, synthetic)
    assert whole[0], kind  # the mutation breaks a rule
    for rows in (7, 64, 299):
        assert validate.check_batch(FILE, frame, synthetic_params.validate_, synthetic, partition_rows=rows) == whole


def test_many_faults_at_once_are_reported_alike_in_partitions(
    day: pd.DataFrame, synthetic_params: Params, synthetic: Domain
) -> None:
    frame = day.copy()
    for kind in ("duplicate ticket", "unknown channel", "null priority", "negative backlog", "malformed ticket"):
        frame = BAD[kind][0](frame)
    frame.loc[frame.index[-5:], "channel"] = "fax"  # the same rule broken again in the last partition
    whole = validate.check_batch(FILE, frame, synthetic_params.validate_, synthetic)
    assert len(whole[0]) == 5 and whole[1].positive_share is not None
    for rows in (1, 5, 100):
        assert validate.check_batch(FILE, frame, synthetic_params.validate_, synthetic, partition_rows=rows) == whole


def test_a_column_whose_values_are_not_all_text_is_one_dtype_problem_in_any_partition(
    day: pd.DataFrame, synthetic_params: Params, synthetic: Domain
) -> None:
    """Text in every partition but the last, where a number hides: the whole batch's column has the wrong kind,
    so no partition checks its row rules (the partitions' checks line up)."""
    frame = day.assign(channel=day["channel"].astype(object))
    frame.loc[frame.index[-1], "channel"] = 5
    whole = validate.check_batch(FILE, frame, synthetic_params.validate_, synthetic)
    assert [(v.column, v.rule) for v in whole[0]] == [("channel", "dtype must be str, found object")]
    assert validate.check_batch(FILE, frame, synthetic_params.validate_, synthetic, partition_rows=7) == whole
