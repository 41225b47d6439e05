"""Stage `validate`: check every incoming batch against the data contract (`domain/nycflights/schema.py`, `rules.py`).

Each rule is vectorised over a whole column. A failure names the file, the column, the rule and a few offending
rows. Nothing here writes: the command writes the report, and the landing folder is never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from retrain.domain.nycflights import rules, schema
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


def _dtype_ok(series: pd.Series, kind: schema.Kind) -> bool:
    if kind == "int":
        return pd.api.types.is_integer_dtype(series)
    if kind == "float":
        return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if kind == "datetime":
        return pd.api.types.is_datetime64_any_dtype(series)
    return pd.api.types.is_string_dtype(series) and bool(series.dropna().map(lambda v: isinstance(v, str)).all())


def check_columns(check: _Checker, table: tuple[schema.Column, ...]) -> list[str]:
    """Per-column rules of the contract. Returns the columns whose dtype is right (safe for row rules)."""
    frame = check.frame
    expected = schema.columns(table)
    for name in expected:
        if name not in frame.columns:
            check.batch(name, "required column is missing")
    for name in frame.columns:
        if name not in expected:
            check.batch(str(name), "unknown column (not in schema.py)")
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


def check_flights(
    file: str, frame: pd.DataFrame, params: Validate, late_minutes: int
) -> tuple[list[Violation], dict[str, Any]]:
    """All rules for one monthly batch of flights, and its summary for the report."""
    check = _Checker(file, frame, params.examples, schema.FLIGHT_KEY)
    typed = check_columns(check, schema.FLIGHTS)
    for column, rule, bad, shown in rules.flight_rules(frame, set(typed), files.batch_month(Path(file).name)):
        check.rows(column, rule, bad, show=shown)
    if len(frame) < params.min_rows:
        check.batch("*", f"at least {params.min_rows} rows, found {len(frame)}")
    for name, limit in params.max_null_rate.items():
        if name in frame.columns and len(frame) and frame[name].isna().mean() > limit:
            check.batch(name, f"null rate <= {limit:g}, found {frame[name].isna().mean():.3f}")
    summary: dict[str, Any] = {"file": file, "rows": len(frame)}  # the batch's BatchSummary, once it is judged
    if schema.OUTCOME in typed and len(frame):
        outcome = frame[schema.OUTCOME]
        late = float(schema.label(outcome, late_minutes).sum() / max(outcome.notna().sum(), 1))
        low, high = params.late_share
        if not low <= late <= high:
            check.batch(
                schema.OUTCOME,
                f"share of arrivals > {late_minutes} min late within [{low:g}, {high:g}], found {late:.3f}",
            )
        summary["late_share"] = round(late, 4)
        summary["cancelled"] = int(outcome.isna().sum())
    if schema.TIME in typed and len(frame):
        summary["first"], summary["last"] = str(frame[schema.TIME].min()), str(frame[schema.TIME].max())
    return check.violations, summary


def check_weather(file: str, frame: pd.DataFrame, params: Validate) -> list[Violation]:
    """Rules for the hourly weather table."""
    check = _Checker(file, frame, params.examples, schema.WEATHER_KEY)
    typed = check_columns(check, schema.WEATHER)
    for column, rule, bad, shown in rules.weather_rules(frame, set(typed)):
        check.rows(column, rule, bad, show=shown)
    return check.violations


def validate(
    batches: Mapping[str, pd.DataFrame],
    weather: tuple[str, pd.DataFrame],
    params: Validate,
    late_minutes: int,
) -> Validation:
    """Check every batch and the weather table; the report lists every violation found, not just the first."""
    violations: list[Violation] = []
    summaries = []
    for file, frame in batches.items():
        found, summary = check_flights(file, frame, params, late_minutes)
        violations += found
        summaries.append(BatchSummary.model_validate(summary | {"passed": not found}))
    violations += check_weather(*weather, params)
    return Validation(passed=not violations, batches=summaries, violations=violations)


def combine(batches: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The validated batches as one frame, in schedule order."""
    frame = pd.concat(list(batches.values()), ignore_index=True)
    return frame.sort_values(["time_hour", *schema.FLIGHT_KEY], kind="stable").reset_index(drop=True)


def run(params: Params, root: Path) -> None:
    """Stage validate: check every batch against the data contract; write the validated flights."""
    paths = params.paths
    batches = files.read_batches(paths.landing)
    weather = (str(paths.weather), files.read_frame(paths.weather))
    report = validate(batches, weather, params.validate_, params.featurize.late_minutes)
    report.write(paths.validation)
    if not report.passed:
        for violation in report.violations:
            log.error(violation.message())
        raise BadInput(
            f"{len(report.violations)} contract violation(s); see {paths.validation}. "
            f"Nothing in {paths.landing} was changed."
        )
    files.write_frame(combine(batches), paths.validated)
    log.info("validate: %d batch(es), %d rows passed", len(batches), sum(len(f) for f in batches.values()))
