"""A typed, frozen view of `params.yaml`, loaded once by the CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from retrain.errors import BadInput
from retrain.io import files
from retrain.results import Tuning


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Paths(Section):
    landing: Path
    sides: Path
    validated: Path
    validation: Path
    train: Path
    test: Path
    data_metrics: Path
    model: Path
    model_meta: Path
    metrics: Path
    slices: Path
    plots: Path
    figures: Path
    drift: Path
    drift_figure: Path
    decision: Path
    monitor: Path
    alert: Path
    golden: Path
    report: Path
    best_params: Path
    trials: Path
    usage: Path
    cost: Path


class Validate(Section):
    min_rows: int = Field(ge=1)
    max_null_rate: dict[str, float]
    positive_share: tuple[float, float]  # plausible share of rows whose label is 1
    examples: int = Field(ge=1)


class Featurize(Section):
    test_periods: int = Field(ge=1)
    train_periods: int | None = Field(default=None, ge=1)


class DomainSection(Section):
    module: str  # the module whose DOMAIN the machinery reads (src/retrain/domain/)
    settings: dict[str, Any] = Field(default_factory=dict)  # the domain's own; it types them (retrain.domain.load)


class Train(Section):
    estimator: Literal["hist_gradient_boosting", "xgboost", "logistic_regression"]
    seed: int
    hyperparameters: dict[str, dict[str, Any]]

    def estimator_params(self) -> dict[str, Any]:
        """Hyperparameters of the chosen estimator."""
        return dict(self.hyperparameters.get(self.estimator, {}))

    def tuned(self, best: Tuning) -> Train:
        """These settings with the values a tuning run found (tuning/best.json), when it ran for this estimator."""
        if not best.tuned or best.estimator != self.estimator:
            return self
        values = self.estimator_params() | best.hyperparameters
        return self.model_copy(update={"hyperparameters": self.hyperparameters | {self.estimator: values}})


class Evaluate(Section):
    threshold: float = Field(gt=0, lt=1)
    slices: tuple[str, ...]
    min_slice_rows: int = Field(ge=1)
    curve_points: int = Field(ge=2)


class Drift(Section):
    exclude: tuple[str, ...]
    psi_bins: int = Field(ge=2)
    psi_floor: float = Field(gt=0)
    psi_threshold: float = Field(gt=0)
    alpha: float = Field(gt=0, lt=1)
    dataset_share: float = Field(gt=0, le=1)


class Monitor(Section):
    log_dir: Path
    labels_dir: Path
    window_days: int = Field(ge=1)
    min_predictions: int = Field(ge=1)
    min_labelled: int = Field(ge=1)
    max_roc_auc_drop: float = Field(ge=0)
    max_staleness_days: int = Field(ge=0)


class Serve(Section):
    max_records: int = Field(ge=1)
    max_batch_rows: int = Field(ge=1)
    latency_budget_seconds: float = Field(gt=0, allow_inf_nan=False)
    stall_seconds: float = Field(gt=0, allow_inf_nan=False)
    max_body_bytes: int = Field(ge=1024)
    log_sample: float = Field(ge=0, le=1)
    log_max_bytes: int = Field(ge=1024)
    log_retention_days: float = Field(gt=0)
    log_max_total_bytes: int = Field(ge=1024)


class Compare(Section):
    base: str
    bootstrap_resamples: int = Field(ge=100)
    seed: int
    alpha: float = Field(gt=0, lt=1)
    slices: tuple[str, ...]


class Gate(Section):
    """The promotion rules, with the bounds no rule may pass: finite tolerances, and floors that always include
    ROC AUC and PR AUC (so neither an edit nor an override such as `gate.floors={}` can switch the gate off)."""

    primary_metric: Literal["roc_auc", "pr_auc"]
    min_delta: float = Field(ge=-1, le=1, allow_inf_nan=False)
    max_loss: float = Field(ge=0, le=1, allow_inf_nan=False)
    floors: dict[Literal["roc_auc", "pr_auc", "precision", "recall", "f1"], Annotated[float, Field(ge=0, le=1)]]
    min_slice_rows: int = Field(ge=1)
    max_slice_loss: float = Field(ge=0, le=1, allow_inf_nan=False)
    min_test_rows: int = Field(default=1, ge=1)  # default: a base's params written before this rule existed

    @field_validator("floors")
    @classmethod
    def _floors_stay(cls, floors: dict[str, float]) -> dict[str, float]:
        missing = {"roc_auc", "pr_auc"} - set(floors)
        if missing:
            raise ValueError(f"floors must keep {', '.join(sorted(missing))} (a gate without floors admits anything)")
        return floors


class Tracking(Section):
    experiment: str
    registered_model: str


class Tune(Section):
    enabled: bool
    sampler: Literal["tpe", "random", "grid"]
    trials: int = Field(ge=1)
    timeout: float = Field(gt=0)
    pruning: bool
    folds: int = Field(ge=1)
    metric: Literal["roc_auc", "pr_auc"]
    seed: int
    study: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    workers: int = Field(ge=1)
    threads: int = Field(ge=0)
    space: dict[str, dict[str, dict[str, Any]]]


class Front(Section):
    max_connections: int = Field(ge=64)
    header_timeout: int = Field(ge=1)
    body_timeout: int = Field(ge=1)
    idle_timeout: int = Field(ge=1)
    upstream_timeout: int = Field(ge=1)


class Canary(Section):
    share: float = Field(ge=0, le=0.5)
    requests: int = Field(ge=1)
    minutes: float = Field(gt=0, allow_inf_nan=False)
    on_low_traffic: Literal["rollback", "promote"]
    max_error_increase: float = Field(ge=0, le=1)
    max_p99_ratio: float = Field(ge=1, allow_inf_nan=False)
    p99_slack_ms: float = Field(ge=0, allow_inf_nan=False)
    max_ks: float = Field(gt=0, le=1)
    alpha: float = Field(gt=0, lt=0.5)


class Health(Section):
    seconds: float = Field(gt=0, allow_inf_nan=False)
    timeout: float = Field(gt=0, allow_inf_nan=False)
    failures: int = Field(ge=1)


class Deploy(Section):
    host: str
    port: int = Field(ge=1, le=65535)
    ready_timeout: float = Field(gt=0)
    drain_seconds: float = Field(ge=0)
    front: Front
    canary: Canary
    health: Health


class Cost(Section):
    per_minute: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]]
    spot_share: float = Field(gt=0, le=1)


class Params(Section):
    """The whole of params.yaml: an unknown section (a typo, a leftover) is an error, like an unknown key."""

    domain: DomainSection
    partition_rows: int = Field(default=100_000, gt=0)  # rows per part file of the large tables (files.write_parts)
    engine: Literal["local", "dask"] = "local"  # dask: the data stages as tasks on a cluster (io/cluster.py)
    paths: Paths
    validate_: Validate = Field(alias="validate")
    featurize: Featurize
    tune: Tune
    train: Train
    evaluate: Evaluate
    drift: Drift
    monitor: Monitor
    serve: Serve
    deploy: Deploy
    compare: Compare
    gate: Gate
    tracking: Tracking
    cost: Cost

    @model_validator(mode="after")
    def _log_outlives_the_monitoring_window(self) -> Params:
        if self.serve.log_retention_days < self.monitor.window_days:
            raise ValueError(
                f"serve.log_retention_days ({self.serve.log_retention_days}) must be at least monitor.window_days "
                f"({self.monitor.window_days}): monitoring reads that window"
            )
        return self


class ParamsError(BadInput):
    """params.yaml is missing or does not match the expected shape."""


def load(path: Path = Path("params.yaml")) -> Params:
    """Read and check params.yaml; errors name the file and the key."""
    try:
        text = path.read_text()
    except FileNotFoundError as error:
        raise ParamsError(f"{path}: not found (run from the repository root)") from error
    return parse(text, str(path))


def parse(text: str, source: str) -> Params:
    """Check the text of a params.yaml (from a file, or as committed at a ref); errors name `source` and the key."""
    path = source
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not YAML ({error})") from error
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            ".".join(str(part) for part in issue["loc"])
            + ": " * bool(issue["loc"])
            + issue["msg"].removeprefix("Value error, ")
            for issue in error.errors()
        )
        raise ParamsError(f"{path}: {problems}") from error


def override(path: Path, assignments: list[str]) -> dict[str, Any]:
    """Override keys of params.yaml in place (KEY=VALUE, values in YAML syntax), also from $RETRAIN_PARAMS (one per
    line), keeping comments; the file stays as it was unless the result is valid. The changes made."""
    lines = [*assignments, *os.environ.get("RETRAIN_PARAMS", "").splitlines()]
    changes = {}
    for line in filter(None, (line.strip() for line in lines)):
        key, separator, value = line.partition("=")
        if not separator or not key.strip():
            raise ParamsError(f"parameter override {line!r} is not KEY=VALUE")
        changes[key.strip()] = yaml.safe_load(value)
    if not changes:
        return changes
    original = path.read_text()
    files.set_yaml_values(path, changes)
    try:
        load(path)
    except ParamsError:
        path.write_text(original)
        raise
    return changes
