"""Stage `validate`: check every incoming batch and side table against the domain's data contract (`retrain.domain`).

Each rule is vectorised over a column of one partition of a batch (`partition_rows` rows; `inspect`), and the
partitions' results are reduced (`summarise`): counts and sums add up, the first offending rows are quoted, and the
key's uniqueness is checked over the key columns of the whole batch, so the report is the same whatever the partition
size. A failure names the file, the column, the rule and a few offending rows. Nothing here writes: the command
writes the report, and the landing folder is never touched.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrain.domain import Column, Domain, Kind, Table, load_domain, periods
from retrain.errors import BadInput
from retrain.io import cluster, files
from retrain.params import Params, Validate
from retrain.pipeline import partitioned
from retrain.results import BatchSummary, Validation, Violation

log = logging.getLogger(__name__)


KEY_RULE = "key is unique"


@dataclass
class Check:
    """One rule on one partition: how many of its rows break it (0: none; a batch-level problem has rows 0 and
    `batch` set) and the first `examples` of them, by their row in the file."""

    column: str
    rule: str
    rows: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    batch: bool = False


class _Checker:
    """Records every rule checked on one partition, in the contract's order, whether or not a row breaks it (so that
    the checks of a file's partitions line up); `examples` rows of each are quoted."""

    def __init__(self, frame: pd.DataFrame, examples: int, key: tuple[str, ...]) -> None:
        self.frame, self.examples = frame, examples
        self.key = [name for name in key if name in frame.columns]
        self.checks: list[Check] = []

    def rows(self, column: str, rule: str, bad: pd.Series, show: tuple[str, ...] = ()) -> None:
        count = int(bad.sum())
        records: list[dict[str, Any]] = []
        if count:
            shown = list(dict.fromkeys([*self.key, column, *show]))
            shown = [name for name in shown if name in self.frame.columns]
            sample = self.frame.loc[bad, shown].head(self.examples)
            records = [
                {"row": int(i), **_plain(row)} for i, row in zip(sample.index, sample.to_dict("records"), strict=True)
            ]
        self.checks.append(Check(column, rule, count, records))

    def batch(self, column: str, rule: str) -> None:
        self.checks.append(Check(column, rule, batch=True))


def _reduce(file: str, partitions: list[list[Check]], examples: int) -> list[Violation]:
    """The partitions' checks as one file's violations: counts summed, the first examples kept, in the order of the
    checks (a batch-level problem, the same in every partition of a file, once)."""
    violations = []
    for checks in zip(*partitions, strict=True):
        first = checks[0]
        if any((check.column, check.rule) != (first.column, first.rule) for check in checks):
            raise AssertionError(f"{file}: partitions checked different rules")  # the same schema in every part
        rows = sum(check.rows for check in checks)
        if first.batch or rows:
            quoted = [row for check in checks for row in check.examples][:examples]
            violations.append(Violation(file=file, column=first.column, rule=first.rule, rows=rows, examples=quoted))
    return violations


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


def well_typed(frame: pd.DataFrame, table: tuple[Column, ...]) -> set[str]:
    """The contract's columns present with the right kind, judged over the whole file (a column with one number among
    its text is wrong in every partition of it)."""
    return {
        column.name for column in table if column.name in frame.columns and _dtype_ok(frame[column.name], column.kind)
    }


def check_columns(check: _Checker, table: tuple[Column, ...], typed_in_file: set[str]) -> list[str]:
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
        if column.name not in typed_in_file:
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


def check_table(check: _Checker, table: Table, typed_in_file: set[str]) -> set[str]:
    """A table's columns, its key and its cross-column rules on one partition. Returns the columns whose dtype is
    right. The key's rule spans partitions: here it is a place in the order, which `_key_check` fills."""
    typed = set(check_columns(check, table.columns, typed_in_file))
    if set(table.key) <= typed:
        check.checks.append(Check("+".join(table.key), KEY_RULE))
    for column, rule, bad, shown in table.rules(check.frame, typed):
        check.rows(column, rule, bad, show=shown)
    return typed


def _key_check(keys: pd.DataFrame, examples: int, key: tuple[str, ...]) -> Check:
    """The key's rule over the key columns of a whole table (a reduction: duplicates may sit in two partitions)."""
    check = _Checker(keys, examples, key)
    check.rows("+".join(key), KEY_RULE, keys.duplicated(list(key), keep=False))
    return check.checks[0]


def _with_key(partitions: list[list[Check]], key: Check) -> list[list[Check]]:
    """The key's place in the first partition filled with the whole table's key check."""
    first = [key if check.rule == KEY_RULE and check.column == key.column else check for check in partitions[0]]
    return [first, *partitions[1:]]


@dataclass
class Partial:
    """What one partition of a batch says: every rule checked, in order, and the sums that span partitions."""

    checks: list[Check]
    typed: set[str]
    rows: int
    nulls: dict[str, int]
    positives: int = 0
    labelled: int = 0
    times: list[Any] = field(default_factory=list)  # the partition's first and last time


def inspect(frame: pd.DataFrame, file: str, params: Validate, domain: Domain, typed_in_file: set[str]) -> Partial:
    """The row rules of one partition of a batch (rows indexed by their row in the file) and its sums."""
    check = _Checker(frame, params.examples, domain.batch.key)
    typed = check_table(check, domain.batch, typed_in_file)
    first = periods.start(Path(file).name.removesuffix(".parquet"), domain.period)
    if domain.time in typed and first is not None:
        outside = periods.starts(frame[domain.time], domain.period, domain.timezone) != first
        name = periods.label(first, domain.period)
        check.rows(domain.time, f"rows belong to the batch's {domain.period} {name} ({domain.timezone})", outside)
    nulls = {name: int(frame[name].isna().sum()) for name in params.max_null_rate if name in frame.columns}
    partial = Partial(check.checks, typed, len(frame), nulls)
    if domain.outcome in typed:
        outcome = frame[domain.outcome]
        partial.positives, partial.labelled = int(domain.labelled(outcome).sum()), int(outcome.notna().sum())
    if domain.time in typed and len(frame):
        partial.times = [frame[domain.time].min(), frame[domain.time].max()]
    return partial


def summarise(
    file: str, partials: list[Partial], key: Check | None, params: Validate, domain: Domain
) -> tuple[list[Violation], BatchSummary]:
    """A batch's violations and summary from its partitions (and the key's check over the whole batch)."""
    checks = [partial.checks for partial in partials]
    violations = _reduce(file, checks if key is None else _with_key(checks, key), params.examples)
    rows, typed = sum(partial.rows for partial in partials), partials[0].typed
    if rows < params.min_rows:
        violations.append(
            Violation(file=file, column="*", rule=f"at least {params.min_rows} rows, found {rows}", rows=0)
        )
    for name, limit in params.max_null_rate.items():
        rate = sum(partial.nulls[name] for partial in partials) / rows if name in partials[0].nulls and rows else 0.0
        if rate > limit:
            violations.append(
                Violation(file=file, column=name, rule=f"null rate <= {limit:g}, found {rate:.3f}", rows=0)
            )
    summary: dict[str, Any] = {"file": file, "rows": rows}
    if domain.outcome in typed and rows:
        labelled = sum(partial.labelled for partial in partials)
        share = sum(partial.positives for partial in partials) / max(labelled, 1)
        low, high = params.positive_share
        if not low <= share <= high:
            rule = (
                f"share of {domain.words.classes[1]} {domain.words.rows} within [{low:g}, {high:g}], found {share:.3f}"
            )
            violations.append(Violation(file=file, column=domain.outcome, rule=rule, rows=0))
        summary |= {"positive_share": round(share, 4), "unlabelled": rows - labelled}
    times = pd.Series([time for partial in partials for time in partial.times])
    if domain.time in typed and rows:
        summary |= {"first": str(times.min()), "last": str(times.max())}
    return violations, BatchSummary.model_validate(summary | {"passed": not violations})


def _parts(frame: pd.DataFrame, rows: int | None) -> list[pd.DataFrame]:
    """The frame's partitions of `rows` rows (all of it when None), each indexed by its rows in the frame."""
    size = rows or max(len(frame), 1)
    return [frame.iloc[start : start + size] for start in range(0, max(len(frame), 1), size)]


def check_batch(
    file: str, frame: pd.DataFrame, params: Validate, domain: Domain, partition_rows: int | None = None
) -> tuple[list[Violation], BatchSummary]:
    """All rules for one batch, checked per partition of `partition_rows` rows and reduced, and its summary."""
    typed = well_typed(frame, domain.batch.columns)
    partials = [inspect(part, file, params, domain, typed) for part in _parts(frame, partition_rows)]
    key = None
    if set(domain.batch.key) <= partials[0].typed:
        key = _key_check(frame[list(domain.batch.key)], params.examples, domain.batch.key)
    return summarise(file, partials, key, params, domain)


def _key_hashes(frame: pd.DataFrame, key: list[str]) -> np.ndarray:
    return pd.util.hash_pandas_object(frame[key], index=False).to_numpy()


def _repeated(hashes: np.ndarray) -> np.ndarray:
    values, counts = np.unique(hashes, return_counts=True)
    return values[counts > 1]


def _key_rows(frame: pd.DataFrame, key: list[str], repeated: np.ndarray) -> pd.DataFrame:
    """The key columns of the rows whose key's hash is among `repeated` (by their row in the file)."""
    return frame.loc[np.isin(_key_hashes(frame, key), repeated), key]


def _typed_on_cluster(path: Path, ranges: list[files.Rows], table: tuple[Column, ...]) -> set[str]:
    """`well_typed` of a whole file, from its schema: a parquet column's values all have its type, except in a column
    that pandas reads as objects (all null, say), whose values decide; those alone are read, by the workers (a column
    is well typed in the file when it is in every partition)."""
    schema = files.schema_frame(path)
    odd = [column for column in table if column.name in schema.columns and schema[column.name].dtype == object]
    typed = well_typed(schema, tuple(column for column in table if column not in odd))
    if odd:
        names = [column.name for column in odd]
        (found,) = partitioned.compute(partitioned.tasks(well_typed, ranges, tuple(odd), columns=names))
        typed |= set.intersection(*found)
    return typed


def check_batches_on_cluster(
    paths: list[Path], params: Validate, domain: Domain, partition_rows: int
) -> list[tuple[list[Violation], BatchSummary]]:
    """`check_batch` for every batch on the cluster: each worker reads and inspects its own ranges of
    `partition_rows` rows; the key's uniqueness is reduced by hash (every row's key hashed, then only the rows whose
    hash repeats gathered and compared by value), so that no process holds a whole batch."""
    key = list(domain.batch.key)
    ranges = [files.row_ranges(path, partition_rows) for path in paths]
    typed = [_typed_on_cluster(path, found, domain.batch.columns) for path, found in zip(paths, ranges, strict=True)]
    keyed = [set(key) <= columns for columns in typed]
    partials, hashes = partitioned.compute(
        [
            partitioned.tasks(inspect, r, str(p), params, domain, t)
            for p, r, t in zip(paths, ranges, typed, strict=True)
        ],
        [partitioned.tasks(_key_hashes, r, key, columns=key) if k else [] for r, k in zip(ranges, keyed, strict=True)],
    )
    repeated = [_repeated(np.concatenate(found)) if found else None for found in hashes]
    (candidates,) = partitioned.compute(
        [
            partitioned.tasks(_key_rows, r, key, twice, columns=key) if twice is not None else []
            for r, twice in zip(ranges, repeated, strict=True)
        ]
    )
    results = []
    for path, file_partials, rows, keys in zip(paths, partials, candidates, keyed, strict=True):
        check = None
        if keys:
            frame = pd.concat([files.schema_frame(path)[key], *rows])
            check = _key_check(frame, params.examples, domain.batch.key)
        results.append(summarise(str(path), file_partials, check, params, domain))
    return results


def check_side(file: str, frame: pd.DataFrame, params: Validate, table: Table) -> list[Violation]:
    """Rules for a side table (one partition: side tables are small)."""
    check = _Checker(frame, params.examples, table.key)
    typed = check_table(check, table, well_typed(frame, table.columns))
    key = _key_check(frame[list(table.key)], params.examples, table.key) if set(table.key) <= typed else None
    return _reduce(file, [check.checks] if key is None else _with_key([check.checks], key), params.examples)


def validate(
    batches: Mapping[str, pd.DataFrame],
    sides: Mapping[str, pd.DataFrame],
    params: Validate,
    domain: Domain,
    partition_rows: int | None = None,
) -> Validation:
    """Check every batch (per partition of `partition_rows` rows) and side table (by file); the report lists every
    violation found, not just the first."""
    violations: list[Violation] = []
    summaries = []
    for file, frame in batches.items():
        found, summary = check_batch(file, frame, params, domain, partition_rows)
        violations += found
        summaries.append(summary)
    for table, (file, frame) in zip(domain.sides, sides.items(), strict=True):
        violations += check_side(file, frame, params, table)
    return Validation(passed=not violations, batches=summaries, violations=violations)


def batch_paths(landing: Path, domain: Domain) -> list[Path]:
    """Every batch file, oldest first."""
    return files.batch_paths(
        landing,
        lambda name: periods.start(name.removesuffix(".parquet"), domain.period) is not None,
        periods.FORM[domain.period],
    )


def read_batches(landing: Path, domain: Domain) -> dict[str, pd.DataFrame]:
    """Every batch, keyed by its file path, oldest first."""
    return {str(path): files.read_frame(path) for path in batch_paths(landing, domain)}


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


def combine_on_cluster(paths: list[Path], domain: Domain, partition_rows: int, target: Path) -> None:
    """`combine` on the cluster, written as `target`'s parts of `partition_rows` rows: the batches sorted by
    `partitioned.sort`, whose order is the local engine's stable sort."""
    ranges = [rows for path in paths for rows in files.row_ranges(path, partition_rows)]
    buckets = target.with_name(target.name + ".buckets")
    try:
        frames, lengths = partitioned.sort(ranges, [domain.time, *domain.batch.key], buckets)
        staged = files.staging(target)
        partitioned.compute(partitioned.write_parts(frames, lengths, staged, partition_rows))
    finally:
        shutil.rmtree(buckets, ignore_errors=True)
    files.replace(staged, target)


def run(params: Params, root: Path) -> None:
    """Stage validate: check every batch and side table against the data contract; write the validated batches."""
    paths, domain = params.paths, load_domain(params)
    if params.engine == "dask":
        run_on_cluster(params)
        return
    batches = read_batches(paths.landing, domain)
    report = validate(batches, read_sides(paths.sides, domain), params.validate_, domain, params.partition_rows)
    _judge(report, params)
    files.write_parts(combine(batches, domain), paths.validated, params.partition_rows)
    log.info("validate: %d batch(es), %d rows passed", len(batches), sum(len(f) for f in batches.values()))


def run_on_cluster(params: Params) -> None:
    """Stage validate on the cluster (`engine: dask`): the same report and validated parts as `run`."""
    paths, domain = params.paths, load_domain(params)
    batches = batch_paths(paths.landing, domain)
    with cluster.connect():
        checked = check_batches_on_cluster(batches, params.validate_, domain, params.partition_rows)
        violations = [violation for found, _ in checked for violation in found]
        for table, (file, frame) in zip(domain.sides, read_sides(paths.sides, domain).items(), strict=True):
            violations += check_side(file, frame, params.validate_, table)
        summaries = [summary for _, summary in checked]
        report = Validation(passed=not violations, batches=summaries, violations=violations)
        _judge(report, params)
        combine_on_cluster(batches, domain, params.partition_rows, paths.validated)
    log.info("validate: %d batch(es), %d rows passed", len(batches), sum(summary.rows for summary in summaries))


def _judge(report: Validation, params: Params) -> None:
    """Write the report; raise, naming each violation, unless it passed."""
    paths = params.paths
    report.write(paths.validation)
    if not report.passed:
        for violation in report.violations:
            log.error(violation.message())
        raise BadInput(
            f"{len(report.violations)} contract violation(s); see {paths.validation}. "
            f"Nothing in {paths.landing} was changed."
        )
