"""The domain: all the machinery knows of the data a repository trains on. One `Domain` says the tables (the batch
table and any side tables, with their columns, keys and cross-column rules), the timestamp and the batch period,
the target and how it is made from the raw outcome, the key that joins late labels, the model's inputs, and the words
reports use. `params.yaml` names the module that holds it (`domain.module`) and gives its settings
(`domain.settings`, typed by the domain). The example is a package beside this module; a team writes its own
(README: Bring your own data). Nothing outside this package names a column, a table or a noun of any domain.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from retrain.params import Params, ParamsError

Kind = Literal["int", "float", "str", "datetime"]
Period = Literal["day", "week", "month"]
Rule = tuple[str, str, pd.Series, tuple[str, ...]]
"""A cross-column rule's verdict: (column, rule, bad rows, columns shown beside it in the error)."""


@dataclass(frozen=True)
class Column:
    """One column of a table: its kind, whether it may be null, and the values it may take."""

    name: str
    kind: Kind
    nullable: bool = False
    ge: float | None = None
    le: float | None = None
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    hhmm: bool = False  # a clock time written as hhmm: minutes below 60
    description: str = ""


def no_rules(frame: pd.DataFrame, typed: set[str]) -> Iterator[Rule]:
    """A table without cross-column rules."""
    return iter(())


@dataclass(frozen=True)
class Table:
    """A raw table: the batch table (one file per batch period) or a side table (one file, joined to the batches)."""

    name: str  # a side table's file is <paths.sides>/<name>.parquet
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # one row per key
    rules: Callable[[pd.DataFrame, set[str]], Iterator[Rule]] = no_rules  # over the columns whose dtype is right

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


@dataclass(frozen=True)
class Words:
    """What reports call a row and the two classes."""

    row: str = "row"
    rows: str = "rows"
    classes: tuple[str, str] = ("negative", "positive")  # target 0, target 1


class Settings(BaseModel):
    """A domain's own section of params.yaml (`domain.settings`); a domain subclasses it with its fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def cleaning(self) -> dict[str, Any]:
        """The keyword arguments of the Pipeline's cleaning step (`Domain.clean`)."""
        return {}


def keep(frame: pd.DataFrame, **limits: Any) -> pd.DataFrame:
    """No cleaning."""
    return frame


def no_join(batch: pd.DataFrame, sides: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """No side tables."""
    return batch


@dataclass(frozen=True)
class Domain:
    """What the machinery reads of a domain. Functions are plain pandas: `derive` and `clean` run in the Pipeline
    (so when serving, on every request), `join` and `label` in featurize, `rules` in validate."""

    name: str  # the model's name: the service's, the Bento's and the deployment's (letters, digits, dashes)
    batch: Table
    time: str  # the UTC timestamp of a row: batches, windows, staleness
    period: Period  # one batch file per period: YYYY-MM-DD (day), YYYY-Www (ISO week), YYYY-MM (month)
    outcome: str  # the raw outcome the target is made from (what late label records carry); null: no label yet
    target: str
    label: Callable[[pd.Series, Any], pd.Series]  # (outcome, settings) -> 0/1
    features: tuple[str, ...]  # the raw columns the model reads (of the batch and side tables)
    categorical: tuple[str, ...]  # model columns after `derive` that are categories ...
    numeric: tuple[str, ...]  # ... and the numeric ones
    derive: Callable[[pd.DataFrame], pd.DataFrame]  # raw features -> model columns, stateless
    label_key: tuple[str, ...]  # what a late label record carries to find its prediction
    timezone: str = "UTC"  # batch periods are cut in this zone
    sides: tuple[Table, ...] = ()
    # batch rows + side tables -> the rows with the side tables' columns: each batch row once, in order (a left join;
    # featurize runs it on each partition with engine dask)
    join: Callable[[pd.DataFrame, Mapping[str, pd.DataFrame]], pd.DataFrame] = no_join
    clean: Callable[..., pd.DataFrame] = keep  # the Pipeline's first step, with `Settings.cleaning()`
    leaky: tuple[str, ...] = ()  # known only after the outcome: never a feature
    settings: type[Settings] = Settings
    config: Any = None  # the settings params.yaml gives, once loaded
    words: Words = field(default_factory=Words)
    row_time: Callable[[pd.DataFrame], pd.Series] | None = None  # a model input row's UTC time (else `time`)
    check_record: Callable[[Mapping[str, Any]], None] | None = None  # a request record's cross-field rule: ValueError
    # data shipped with the domain, by file name without .parquet (bundled.py: new-batch, bootstrap)
    bundled: Callable[[str], pd.DataFrame | None] | None = None

    @property
    def bento(self) -> str:
        """The name of the service and its Bento (BentoML names take no dash)."""
        return self.name.replace("-", "_")

    def columns(self, names: Iterable[str] | None = None) -> tuple[Column, ...]:
        """The contract of the named columns (of any table; by default the model's raw inputs, then the label key's
        other columns: what a request record holds)."""
        by_name = {column.name: column for table in (*self.sides, self.batch) for column in table.columns}
        wanted = dict.fromkeys((*self.features, *self.label_key) if names is None else names)
        return tuple(by_name[name] for name in wanted)

    def times(self, frame: pd.DataFrame) -> pd.Series:
        """The UTC time of each model-input row (what staleness measures)."""
        return self.row_time(frame) if self.row_time else frame[self.time]

    def labelled(self, outcome: pd.Series) -> pd.Series:
        """The target (int8) from the outcome, by the settings params.yaml gives."""
        return self.label(outcome, self.config).astype("int8")


_active: Domain | None = None


def load_domain(params: Params) -> Domain:
    """The domain params.yaml names, with its settings checked; it becomes the process's domain (`active`)."""
    section = params.domain
    try:
        module = importlib.import_module(section.module)
    except ImportError as error:
        raise ParamsError(f"params.yaml: domain.module {section.module!r} cannot be imported ({error})") from None
    declared = getattr(module, "DOMAIN", None)
    if not isinstance(declared, Domain):
        raise ParamsError(f"params.yaml: domain.module {section.module!r} has no DOMAIN (a retrain.domain.Domain)")
    try:
        config = declared.settings.model_validate(section.settings)
    except ValidationError as error:
        problems = "; ".join(f"domain.settings.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ParamsError(f"params.yaml: {problems}") from None
    return use(replace(declared, config=config))


def use(domain: Domain) -> Domain:
    """Make `domain` the process's domain (`load_domain` does; a spawned worker is handed its parent's)."""
    global _active
    _active = domain
    return domain


def active() -> Domain:
    """The domain loaded last: what a saved model's steps (`retrain.pipeline.derive_features`) run."""
    if _active is None:
        raise RuntimeError("no domain loaded: call retrain.domain.load_domain(params) first")
    return _active
