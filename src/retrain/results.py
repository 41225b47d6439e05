"""What one room hands another, typed: each result is a frozen pydantic model, written to its JSON file and read
back by the same class, so a renamed field fails loudly where it is read instead of silently in a report.

validation (validate -> report), drift (drift -> report, monitor), tuning (tune -> train, report),
the decision (compare -> gate, report) and the monitoring verdict (monitor -> alert, report).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from retrain.io import files


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Document(Frozen):
    """A result that lives in one JSON file."""

    def write(self, path: Path) -> None:
        files.write_json(self.model_dump(mode="json"), path)

    @classmethod
    def read(cls, path: Path) -> Self:
        """The result in `path`; a file that does not match the model is bad input naming the file."""
        data = files.read_json(path)
        try:
            return cls.model_validate(data)
        except ValueError as error:
            raise files.InputError(f"{path}: not a {cls.__name__} ({error})") from error


# --- validate ----------------------------------------------------------------------------------------------------


class Violation(Frozen):
    file: str
    column: str
    rule: str
    rows: int
    examples: list[dict[str, Any]] = []

    def message(self) -> str:
        shown = "; ".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in self.examples)
        where = f"{self.rows} rows" if self.rows else "batch"
        return f"{self.file}: column '{self.column}' breaks rule '{self.rule}' ({where})" + (
            f", e.g. {shown}" if shown else ""
        )


class BatchSummary(Frozen):
    file: str
    rows: int
    passed: bool
    positive_share: float | None = None  # of the labelled rows
    unlabelled: int | None = None  # rows whose outcome is not known (dropped by featurize)
    first: str | None = None
    last: str | None = None


class Validation(Document):
    """reports/validation.json: every batch, and every violation found (not just the first)."""

    passed: bool
    batches: list[BatchSummary]
    violations: list[Violation]

    def write(self, path: Path) -> None:  # the message is written out too, for readers of the file
        data = self.model_dump(mode="json")
        for violation, written in zip(self.violations, data["violations"], strict=True):
            written["message"] = violation.message()
        files.write_json(data, path)

    @classmethod
    def read(cls, path: Path) -> Self:
        data = files.read_json(path)
        for violation in data.get("violations", []) if isinstance(data, dict) else []:
            violation.pop("message", None)
        try:
            return cls.model_validate(data)
        except ValueError as error:
            raise files.InputError(f"{path}: not a {cls.__name__} ({error})") from error


# --- drift -------------------------------------------------------------------------------------------------------


class Bin(Frozen):
    bin: str
    reference: float
    current: float


class FeatureDrift(Frozen):
    feature: str
    test: str
    statistic: float
    p_value: float
    p_value_adjusted: float
    psi: float
    drifted: bool
    bins: list[Bin]


class DriftResult(Document):
    """reports/drift.json: per feature, the test, its statistic and p-values, PSI and the verdict."""

    dataset_drift: bool
    drifted_share: float
    drifted_features: list[str]
    summary: str
    reference_rows: int
    current_rows: int
    features: list[FeatureDrift]
    figure: str | None = None


# --- tune --------------------------------------------------------------------------------------------------------


class Tuning(Document):
    """tuning/best.json: the hyperparameters train uses (none when tuning is off), and how the search went."""

    tuned: bool
    estimator: str
    hyperparameters: dict[str, Any]
    metric: str | None = None
    best_value: float | None = None
    best_trial: int | None = None
    trials: dict[str, int] = {}
    sampler: str | None = None
    study: str | None = None
    seconds: float | None = None
    importance: dict[str, float] = {}


# --- compare -----------------------------------------------------------------------------------------------------


class Check(Frozen):
    rule: str
    passed: bool
    detail: str


class Delta(Frozen):
    """Challenger minus champion for one metric: point estimate, paired-bootstrap interval and p-value."""

    champion: float
    challenger: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float


class McNemar(Frozen):
    only_champion_right: int
    only_challenger_right: int
    p_value: float


class SliceDelta(Frozen):
    slice: str
    value: str
    rows: int
    champion: float | None = None
    challenger: float | None = None
    delta: float | None = None


class Verdict(Frozen):
    """The statistical part of a decision: what the gate said and why."""

    promote: bool
    reasons: list[str]
    checks: list[Check] = []
    first_model: bool = False
    summary: str
    comparison: dict[str, Delta] = {}
    mcnemar: McNemar | None = None
    slices: list[SliceDelta] = []


class Base(Frozen):
    ref: str
    commit: str | None = None


class Identity(Frozen):
    """A model by its md5; for the champion, the commit whose dvc.lock named it; for the challenger, HEAD."""

    model_md5: str | None = None
    commit: str | None = None


class Decision(Verdict, Document):
    """reports/decision.json: champion against challenger on one test window, and promote or block."""

    base: Base
    champion: Identity
    challenger: Identity
    metrics: dict[str, dict[str, float]]
    threshold: float
    test_window: dict[str, Any]
    gate_changed: bool = False
    """The working tree's `gate` section differs from the base's, which judged."""


# --- monitor -----------------------------------------------------------------------------------------------------


class Volume(Frozen):
    predictions: int
    window_days: int
    note: str | None = None


class DriftCheck(Frozen):
    dataset_drift: bool
    drifted_share: float
    drifted_features: list[str]
    summary: str
    psi: dict[str, float]


class Performance(Frozen):
    labelled: int
    promoted_roc_auc: float | None = None
    roc_auc: float | None = None
    note: str | None = None


class Shadow(Frozen):
    predictions: int
    disagreement_rate: float
    mean_absolute_difference: float


class Staleness(Frozen):
    training_data_until: str
    newest_row: str | None = Field(default=None, validation_alias=AliasChoices("newest_row", "newest_flight"))
    days: int | None = None


class MonitorChecks(Frozen):
    volume: Volume
    drift: DriftCheck | None = None
    performance: Performance | None = None
    shadow: Shadow | None = None
    staleness: Staleness


class MonitorVerdict(Document):
    """reports/monitor.json: retrain or not, why, and the numbers behind every check."""

    retrain: bool
    reasons: list[str]
    checked_at: str
    checks: MonitorChecks
    blind: bool = False  # a configured log location missing, unreadable or without a prediction in the window
    inference_log: str = ""
    malformed_lines: int = 0
    malformed_label_lines: int = 0
    models_seen: list[str] = []


class StageUsage(Frozen):
    """What one stage used as it ran (reports/usage/<stage>.json)."""

    stage: str
    wall_seconds: float
    cpu_seconds: float
    peak_mib: float


class Cost(Document):
    """reports/cost.json: what the stages of one repro used, on which machine, and the price estimate."""

    stages: list[StageUsage]
    wall_seconds: float
    cpu_seconds: float
    peak_mib: float
    machine: str
    spot: bool
    minutes_billed: int
    price_per_minute: float | None
    estimate_usd: float | None
