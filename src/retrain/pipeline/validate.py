"""Stage `validate`: check every incoming batch and side table against the domain's data contract (`retrain.domain`).

Each rule is vectorised over a whole column. A failure names the file, the column, the rule and a few offending
rows. Nothing here writes: the command writes the report, and the landing folder is never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from retrain.domain import Column, Domain, Kind, Table, load_domain, periods
from retrain.errors import BadInput
from retrain.io import files
from retrain.params import Params, Validate
from retrain.results import BatchSummary, Validation, Violation

log = logging.getLogger(__name__)


class _Checker:
    """Collects violations for one file; `examples` rows of each are quoted."""

    def __init__(self, file: str, frame: pd.DataFrame, examples: int, key: tuple[str, ...]) -> None:
        self.file, self.frame, self.examples = file, frame, examples
        self.key = [name for name in key if name in frame.columns]
        self.violations: list[Violation] = []

    def rows(self, column: str, rule: str, bad: pd.Series, show: tuple[str, ...] = ()) -> None:
        count = int(bad.sum())
        if count:
            shown = list(dict.fromkeys([*self.key, column, *show]))
            shown = [name for name in shown if name in self.frame.columns]
            sample = self.frame.loc[bad, shown].head(self.examples)
            records = [
                {"row": int(i), **_plain(row)} for i, row in zip(sample.index, sample.to_dict("records"), strict=True)
            ]
            self.violations.append(Violation(file=self.file, column=column, rule=rule, rows=count, examples=records))

    def batch(self, column: str, rule: str) -> None:
        self.violations.append(Violation(file=self.file, column=column, rule=rule, rows=0))


def _plain(row: dict[Any, Any]) -> dict[str, Any]:
    """A row as JSON-ready values: numbers and strings stay, NaN becomes None, anything else its text."""

    def plain(value: Any) -> Any:
        if pd.isna(value):
            return None
        if isinstance(value, int | float | str):
            return value
        return value.item() if hasattr(value, "item") else str(value)

    return {str(key): plain(value) for key, value in row.items()}


def _dtype_ok(series: pd.Series, kind: Kind) -> bool:
    if kind == "int":
        return pd.api.types.is_integer_dtype(series)
    if kind == "float":
        return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if kind == "datetime":
        return pd.api.types.is_datetime64_any_dtype(series)
    return pd.api.types.is_string_dtype(series) and bool(series.dropna().map(lambda v: isinstance(v, str)).all())


def check_columns(check: _Checker, table: tuple[Column, ...]) -> list[str]:
    """Per-column rules of the contract. Returns the columns whose dtype is right (safe for row rules)."""
    frame = check.frame
    expected = [column.name for column in table]
    for name in expected:
        if name not in frame.columns:
            check.batch(name, "required column is missing")
    for name in frame.columns:
        if name not in expected:
            check.batch(str(name), "unknown column (not in the domain's contract)")
    typed = []
    for column in table:
        if column.name not in frame.columns:
            continue
        values = frame[column.name]
        if not _dtype_ok(values, column.kind):
            check.batch(column.name, f"dtype must be {column.kind}, found {values.dtype}")
            continue
        typed.append(column.name)
        present = values.notna()
        if not column.nullable:
            check.rows(column.name, "must not be null", ~present)
        if column.ge is not None:
            check.rows(column.name, f">= {column.ge:g}", present & (values < column.ge))
        if column.le is not None:
            check.rows(column.name, f"<= {column.le:g}", present & (values > column.le))
        if column.allowed is not None:
            check.rows(column.name, f"one of {', '.join(column.allowed)}", present & ~values.isin(column.allowed))
        if column.pattern is not None:
            matches = values.astype("str").str.fullmatch(column.pattern)
            check.rows(column.name, f"matches {column.pattern}", present & ~matches.astype(bool))
        if column.hhmm:
            check.rows(column.name, "valid hhmm (minutes < 60)", present & (values % 100 >= 60))
    return typed


def check_table(check: _Checker, table: Table) -> set[str]:
    """A table's columns, its key and its cross-column rules. Returns the columns whose dtype is right."""
    typed = set(check_columns(check, table.columns))
    if set(table.key) <= typed:
        check.rows("+".join(table.key), "key is unique", check.frame.duplicated(list(table.key), keep=False))
    for column, rule, bad, shown in table.rules(check.frame, typed):
        check.rows(column, rule, bad, show=shown)
    return typed


def check_batch(
    file: str, frame: pd.DataFrame, params: Validate, domain: Domain
) -> tuple[list[Violation], BatchSummary]:
    """All rules for one batch, and its summary for the report."""
    check = _Checker(file, frame, params.examples, domain.batch.key)
    typed = check_table(check, domain.batch)
    first = periods.start(Path(file).name.removesuffix(".parquet"), domain.period)
    if domain.time in typed and first is not None:
        outside = periods.starts(frame[domain.time], domain.period, domain.timezone) != first
        name = periods.label(first, domain.period)
        check.rows(domain.time, f"rows belong to the batch's {domain.period} {name} ({domain.timezone})", outside)
    if len(frame) < params.min_rows:
        check.batch("*", f"at least {params.min_rows} rows, found {len(frame)}")
    for name, limit in params.max_null_rate.items():
        if name in frame.columns and len(frame) and frame[name].isna().mean() > limit:
            check.batch(name, f"null rate <= {limit:g}, found {frame[name].isna().mean():.3f}")
    summary: dict[str, Any] = {"file": file, "rows": len(frame)}
    if domain.outcome in typed and len(frame):
        outcome = frame[domain.outcome]
        share = float(domain.labelled(outcome).sum() / max(outcome.notna().sum(), 1))
        low, high = params.positive_share
        if not low <= share <= high:
            positive = domain.words.classes[1]
            check.batch(
                domain.outcome, f"share of {positive} {domain.words.rows} within [{low:g}, {high:g}], found {share:.3f}"
            )
        summary |= {"positive_share": round(share, 4), "unlabelled": int(outcome.isna().sum())}
    if domain.time in typed and len(frame):
        summary |= {"first": str(frame[domain.time].min()), "last": str(frame[domain.time].max())}
    return check.violations, BatchSummary.model_validate(summary | {"passed": not check.violations})


def check_side(file: str, frame: pd.DataFrame, params: Validate, table: Table) -> list[Violation]:
    """Rules for a side table."""
    check = _Checker(file, frame, params.examples, table.key)
    check_table(check, table)
    return check.violations


def validate(
    batches: Mapping[str, pd.DataFrame], sides: Mapping[str, pd.DataFrame], params: Validate, domain: Domain
) -> Validation:
    """Check every batch and side table (by file); the report lists every violation found, not just the first."""
    violations: list[Violation] = []
    summaries = []
    for file, frame in batches.items():
        found, summary = check_batch(file, frame, params, domain)
        violations += found
        summaries.append(summary)
    for table, (file, frame) in zip(domain.sides, sides.items(), strict=True):
        violations += check_side(file, frame, params, table)
    return Validation(passed=not violations, batches=summaries, violations=violations)


def read_batches(landing: Path, domain: Domain) -> dict[str, pd.DataFrame]:
    """Every batch, keyed by its file path, oldest first."""
    paths = files.batch_paths(
        landing,
        lambda name: periods.start(name.removesuffix(".parquet"), domain.period) is not None,
        periods.FORM[domain.period],
    )
    return {str(path): files.read_frame(path) for path in paths}


def read_sides(folder: Path, domain: Domain) -> dict[str, pd.DataFrame]:
    """Every side table the domain names, keyed by its file path, in the domain's order."""
    return {
        str(folder / f"{table.name}.parquet"): files.read_frame(folder / f"{table.name}.parquet")
        for table in domain.sides
    }


def combine(batches: Mapping[str, pd.DataFrame], domain: Domain) -> pd.DataFrame:
    """The validated batches as one frame, in time order."""
    frame = pd.concat(list(batches.values()), ignore_index=True)
    return frame.sort_values([domain.time, *domain.batch.key], kind="stable").reset_index(drop=True)


def run(params: Params, root: Path) -> None:
    """Stage validate: check every batch and side table against the data contract; write the validated batches."""
    paths, domain = params.paths, load_domain(params)
    batches = read_batches(paths.landing, domain)
    report = validate(batches, read_sides(paths.sides, domain), params.validate_, domain)
    report.write(paths.validation)
    if not report.passed:
        for violation in report.violations:
            log.error(violation.message())
        raise BadInput(
            f"{len(report.violations)} contract violation(s); see {paths.validation}. "
            f"Nothing in {paths.landing} was changed."
        )
    files.write_parts(combine(batches, domain), paths.validated, params.partition_rows)
    log.info("validate: %d batch(es), %d rows passed", len(batches), sum(len(f) for f in batches.values()))
