"""The service's request model, generated from the domain's data contract (`retrain.domain`), never copied from it."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, create_model, model_validator

from retrain.domain import Column, Domain

KINDS: dict[str, Any] = {"int": int, "float": float, "str": str, "datetime": AwareDatetime}  # a time: ISO 8601, zoned


def _valid_hhmm(value: float | None) -> float | None:
    if value is not None and value % 100 >= 60:
        raise ValueError("must be a time hhmm with minutes below 60")
    return value


def _annotation(column: Column) -> Any:
    """A column's type with its contract as pydantic constraints: numbers are strict (a boolean is no number, nor is
    a string) and finite."""
    if column.allowed is not None:
        kind: Any = Literal[column.allowed]
    else:
        kind = KINDS[column.kind]
    numeric = column.kind in ("int", "float")
    constraints = Field(
        ge=column.ge,
        le=column.le,
        pattern=f"^{column.pattern}$" if column.pattern else None,
        strict=True if numeric else None,
        allow_inf_nan=False if column.kind == "float" else None,
        description=column.description,
    )
    annotated: Any = Annotated[kind, constraints]
    if column.hhmm:
        annotated = Annotated[annotated, AfterValidator(_valid_hhmm)]
    return annotated | None if column.nullable else annotated


class Record(BaseModel):
    """One row as the model reads it, and the label key's other columns (they only identify it for the later label
    join). Columns of the raw tables that the model does not read are dropped (a row sent as the batch table has
    them); any other unknown field is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    records: list[Record]

    def records_as_dicts(self) -> list[dict[str, Any]]:
        return [record.model_dump() for record in self.records]


class PredictResponse(BaseModel):
    """The answer: the decision at evaluate.threshold, the probability of the positive class, and the model's md5."""

    predictions: list[Literal[0, 1]]
    probabilities: list[Annotated[float, Field(ge=0, le=1)]]
    model: Annotated[str, Field(pattern="^[0-9a-f]{32}$")]


class ErrorResponse(BaseModel):
    """Every 4xx and 503: one readable line, and for invalid records one line per problem."""

    error: str
    detail: list[str] | None = None


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its `$defs` references replaced by the definitions (OpenAPI 3.0 has no `$defs`)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return dict(resolve(schema))


def openapi(domain: Domain) -> dict[str, Any]:
    """`/predict`'s request body and answers for the OpenAPI document, generated from the data contract (the most
    records a request may hold is `serve.max_records`, known when the service starts: said, not in the schema)."""

    def content(model: type[BaseModel]) -> dict[str, Any]:
        return {"application/json": {"schema": _inline(model.model_json_schema())}}

    body = content(request_model(1, domain))
    records = body["application/json"]["schema"]["properties"]["records"]
    records.pop("maxItems")
    records["description"] = (
        f"1 to serve.max_records (params.yaml) {domain.words.rows}, each checked against the data contract"
    )
    error = {"content": content(ErrorResponse)}
    return {
        "requestBody": {"required": True, "content": body},
        "responses": {
            "200": {"description": "One prediction per record, in order", "content": content(PredictResponse)},
            "400": {"description": "The body is not JSON (or nests deeper than 1,024)", **error},
            "413": {"description": "The body is over serve.max_body_bytes", **error},
            "415": {"description": "The content type is not application/json", **error},
            "422": {"description": "Records that break the data contract, or one the model cannot score", **error},
            "503": {"description": "Overloaded: retry after the Retry-After header's seconds", **error},
        },
    }


def records_frame(records: list[dict[str, Any]], domain: Domain) -> pd.DataFrame:
    """Validated records as the raw-row frame the Pipeline scores, its columns in `Domain.features` order (missing
    optional values become NaN). Built column by column: a frame from a list of dicts costs milliseconds."""
    columns: dict[str, Any] = {}
    for column in domain.columns(domain.features):
        values = [record[column.name] for record in records]
        if column.kind == "datetime":  # UTC, as the batches hold it (NaT where null)
            columns[column.name] = pd.Series(pd.to_datetime(values, utc=True))
        elif column.kind == "float" or (column.kind == "int" and column.nullable):
            columns[column.name] = np.array([np.nan if value is None else value for value in values], dtype="float64")
        elif column.kind == "int":
            columns[column.name] = np.array(values, dtype="int64")
        else:  # object (None where null), as the Pipeline's encoders take it: pandas' string dtype converts twice
            columns[column.name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns, copy=False)


def _record_model(domain: Domain) -> type[Record]:
    """A record's fields from the contract: the model's inputs (required unless nullable) and the label key's other
    columns (optional); the domain's cross-field check (`Domain.check_record`) runs on each record."""
    fields: dict[str, Any] = {}
    for column in domain.columns():
        required = column.name in domain.features and not column.nullable
        fields[column.name] = (
            _annotation(column) if required else _annotation(column) | None,
            ... if required else None,
        )
    everything = {column.name for table in (domain.batch, *domain.sides) for column in table.columns}
    ignored = frozenset(everything - set(fields))

    def drop_raw_columns(cls: type[Record], data: Any) -> Any:
        return {k: v for k, v in data.items() if k not in ignored} if isinstance(data, dict) else data

    def check(record: Record) -> Record:
        if domain.check_record is not None:
            domain.check_record(record.__dict__)
        return record

    validators: dict[str, Any] = {
        "drop_raw_columns": model_validator(mode="before")(classmethod(drop_raw_columns)),  # type: ignore[arg-type]
        "check": model_validator(mode="after")(check),
    }
    return create_model("Record", __base__=Record, __validators__=validators, **fields)


@functools.cache
def request_model(max_records: int, domain: Domain) -> type[PredictRequest]:
    """`{"records": [...]}` with 1 to `max_records` records, each checked against the domain's contract."""
    record = _record_model(domain)
    return create_model(
        "PredictRequest",
        __base__=PredictRequest,
        records=(Annotated[list[record], Field(min_length=1, max_length=max_records)], ...),  # type: ignore[valid-type,arg-type]
    )
