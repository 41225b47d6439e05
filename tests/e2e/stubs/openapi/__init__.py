"""GitHub's REST API as its own OpenAPI description allows it, for the GitHub stand-in (tests/e2e/stubs/github.py):
the operations this project calls, extracted from @octokit/openapi by extract.py into github-rest.json (the package
and version are recorded there). `Description.request` matches a request to an operation by method and path template
and refuses, with GitHub's own answer, what the description does not allow:

- a path no operation has, or a method the path does not have: 404 "Not Found" (GitHub routes nothing else);
- a path parameter of the wrong type (a pull number that is not an integer): 404, as the route does not match;
- a query parameter the operation does not declare, a required one missing, or one of the wrong type or outside its
  enum (query values arrive as strings and are read as the parameter's type first): 422;
- a JSON body the operation does not take, one it requires but did not get, or one invalid against its request
  schema (a required field missing, a wrong type, a key that additionalProperties false forbids): 422 "Invalid
  request." followed by the detail, in GitHub's words where known: `"sha" wasn't supplied.` (octokit/octokit.rb#992),
  `For 'links/0/schema', nil is not an object.` for a missing body (github/maven-plugins#137); a body that is not
  JSON: 400 "Problems parsing JSON".

`Description.answer` checks an answer against the operation: a status the operation lists must carry a body valid
against that status's schema (none for a 204 or a redirect); a status it does not list is a problem, except the
errors GitHub answers on every operation though the description lists them on few (GENERAL), 422 on an operation
that takes a body or query parameters, and the few of UNLISTED, each with its source. Error bodies are `basic-error`
(`validation-error` for 422). Both return problems as text, which the stand-in records as violations."""

from __future__ import annotations

import copy
import json
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

EXTRACT = Path(__file__).with_name("github-rest.json")
URN = "urn:github-rest"
DOCS = "https://docs.github.com/rest"

# statuses GitHub answers on every operation, though the description lists each on few ("Troubleshooting the REST
# API", GitHub's REST docs): 401 without a valid token; 403 for a token without the permission ("Resource not
# accessible by integration", "Must have admin rights to Repository."); 404 for what does not exist or what the
# token may not see (GitHub answers 404, not 403, for a private resource)
GENERAL = ("401", "403", "404")
# statuses GitHub answers that an operation's description does not list, with the source
UNLISTED = {
    # cli/cli#6928 (`gh variable set` creates, and updates on 409); integrations/terraform-provider-github#2758
    ("actions/create-repo-variable", "409"): "a variable of that name exists",
    # benc-uk/workflow-dispatch#72 ("Cannot trigger a 'workflow_dispatch' on a disabled workflow"), fcetool/fcetool#1
    # ("Workflow does not have 'workflow_dispatch' trigger", status 422): the dispatch's own validation
    ("actions/create-workflow-dispatch", "422"): "a dispatch GitHub refuses",
}
NO_BODY = ("204", "301", "302", "303", "304")


class Refused(Exception):
    """A request the description does not allow: GitHub's answer to it, and what is wrong with it."""

    def __init__(self, status: int, message: str, problem: str) -> None:
        super().__init__(problem)
        self.status, self.problem = status, problem
        self.body = {"message": message, "documentation_url": DOCS, "status": str(status)}


@dataclass(frozen=True)
class Operation:
    name: str  # the operationId
    method: str
    template: str
    parameters: tuple[dict[str, Any], ...]
    body: dict[str, Any] | None  # {"required": bool, "schema": ...}
    responses: dict[str, dict[str, Any]]
    pattern: re.Pattern[str]

    @property
    def pointer(self) -> str:
        return "/operations/" + self.name.replace("~", "~0").replace("/", "~1")

    @property
    def literals(self) -> int:
        return sum(1 for part in self.template.split("/") if part and not part.startswith("{"))


@dataclass(frozen=True)
class Call:
    """A request the description allows: its operation, and its parameters read as their types."""

    operation: Operation
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any
    accept: str = ""


def _pattern(template: str, parameters: Iterable[dict[str, Any]]) -> re.Pattern[str]:
    multi = {p["name"] for p in parameters if p["in"] == "path" and p.get("x-multi-segment")}
    regex = re.sub(
        r"\\\{(\w+)\\\}",
        lambda m: f"(?P<{m[1]}>.+)" if m[1] in multi else f"(?P<{m[1]}>[^/]+)",
        re.escape(template),
    )
    return re.compile(regex)


def _ruby(value: Any) -> str:
    """A value as GitHub's messages show it (its validator is written in Ruby: null is nil)."""
    return "nil" if value is None else json.dumps(value)


def _detail(error: ValidationError) -> str:
    """A schema error in GitHub's words: `"name" wasn't supplied.`, `For 'properties/x', 1 is not a string.`"""
    where = "/".join(["properties", *(str(part) for part in error.absolute_path)])
    if error.validator == "required":
        return f'"{error.message.split(chr(39))[1]}" wasn\'t supplied.'
    if error.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)'", error.message.split("(")[-1])
        return " ".join(f'"{name}" is not a permitted key.' for name in extra)
    if error.validator == "type":
        expected: Any = error.validator_value
        kinds = [str(kind) for kind in (expected if isinstance(expected, list) else [expected])]
        names = " or ".join(f"an {k}" if k[0] in "aeiou" else f"a {k}" for k in kinds)
        return f"For '{where}', {_ruby(error.instance)} is not {names}."
    return f"For '{where}', {error.message}."


class Description:
    """The extract: its operations, validators for its schemas, and its example answers."""

    def __init__(self, path: Path = EXTRACT) -> None:
        self.document: dict[str, Any] = json.loads(path.read_text())
        self.source: dict[str, str] = self.document["source"]
        resource: Resource[Any] = DRAFT202012.create_resource(self.document)
        self._registry: Registry[Any] = Registry().with_resource(URN, resource)
        self._validators: dict[str, Draft202012Validator] = {}
        self.operations = {
            name: Operation(
                name,
                op["method"],
                op["path"],
                tuple(op["parameters"]),
                op.get("requestBody"),
                op["responses"],
                _pattern(op["path"], op["parameters"]),
            )
            for name, op in self.document["operations"].items()
        }
        self._routes = sorted(self.operations.values(), key=lambda op: -op.literals)

    def _errors(self, pointer: str, instance: Any) -> list[ValidationError]:
        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator({"$ref": f"{URN}#{pointer}"}, registry=self._registry)
        return sorted(self._validators[pointer].iter_errors(instance), key=lambda e: list(e.absolute_path))

    def example(self, operation: str, status: str) -> Any:
        """A fresh copy of the description's example answer for this operation and status."""
        return copy.deepcopy(self.operations[operation].responses[status]["example"])

    # --- requests ------------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, query: str, body: bytes, accept: str = "") -> Call:
        """The operation this request calls, with its parameters; Refused if the description does not allow it."""
        where = f"{method} {path}"
        matched = [(op, found) for op in self._routes if (found := op.pattern.fullmatch(path))]
        chosen = next(((op, found) for op, found in matched if op.method == method), None)
        if chosen is None:
            methods = sorted({op.method for op, _ in matched})
            problem = f"this path has only {methods}" if matched else "no operation of the extract has this path"
            raise Refused(404, "Not Found", f"{where}: {problem}")
        op, found = chosen
        declared = {p["name"]: (i, p) for i, p in enumerate(op.parameters)}
        path_values = {}
        for name, raw in found.groupdict().items():
            index, parameter = declared[name]
            value, problems = self._parameter(op, index, parameter, urllib.parse.unquote(raw))
            if problems:
                raise Refused(404, "Not Found", f"{where} ({op.name}): path parameter {name}: {problems}")
            path_values[name] = value
        query_values = {}
        for name, raw in urllib.parse.parse_qsl(query, keep_blank_values=True):
            if name not in declared or declared[name][1]["in"] != "query":
                raise Refused(
                    422, "Invalid request.", f"{where} ({op.name}): query parameter {name!r} is not one it declares"
                )
            index, parameter = declared[name]
            value, problems = self._parameter(op, index, parameter, raw)
            if problems:
                raise Refused(
                    422, f"Invalid request.\n\n{problems}", f"{where} ({op.name}): query parameter {problems}"
                )
            query_values[name] = value
        missing = [
            p["name"] for p in op.parameters if p["in"] == "query" and p["required"] and p["name"] not in query_values
        ]
        if missing:
            raise Refused(422, "Invalid request.", f"{where} ({op.name}): required query parameters missing: {missing}")
        return Call(op, path_values, query_values, self._body(op, where, body), accept)

    def _parameter(self, op: Operation, index: int, parameter: dict[str, Any], raw: str) -> tuple[Any, str]:
        """A parameter's text read as its schema's type, and what is wrong with it."""
        schema = parameter["schema"]
        kinds = [k for s in [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])] for k in _kinds(s)]
        value: Any = raw
        if "string" not in kinds:
            if "integer" in kinds and re.fullmatch(r"-?\d+", raw):
                value = int(raw)
            elif "boolean" in kinds and raw in ("true", "false"):
                value = raw == "true"
        errors = self._errors(f"{op.pointer}/parameters/{index}/schema", value)
        return value, "; ".join(f"{parameter['name']}: {_ruby(value)} {e.message}" for e in errors[:1])

    def _body(self, op: Operation, where: str, raw: bytes) -> Any:
        if not raw.strip():
            if op.body and op.body["required"]:
                problem = f"{where} ({op.name}): no body, and it requires one"
                raise Refused(422, "Invalid request.\n\nFor 'links/0/schema', nil is not an object.", problem)
            return None
        if op.body is None:
            raise Refused(422, "Invalid request.", f"{where} ({op.name}): a body, and it takes none")
        try:
            body = json.loads(raw)
        except ValueError:
            raise Refused(400, "Problems parsing JSON", f"{where} ({op.name}): a body that is not JSON") from None
        errors = self._errors(f"{op.pointer}/requestBody/schema", body)
        if errors:
            detail = _detail(errors[0])
            raise Refused(422, f"Invalid request.\n\n{detail}", f"{where} ({op.name}): body: {detail}")
        return body

    # --- answers -------------------------------------------------------------------------------------------------
    def answer(self, op: Operation, status: int, body: Any) -> list[str]:
        """What is wrong with this answer to `op`, as problems (none when the description allows it)."""
        code, where = str(status), f"{op.name} answered {status}"
        listed = op.responses.get(code)
        if listed is not None:
            if "schema" in listed:
                pointer = f"{op.pointer}/responses/{code}/schema"
            elif code in NO_BODY:
                return [] if body is None else [f"{where} with a body, and the description gives this status none"]
            else:
                return []  # an error the description lists without a schema
        elif code in GENERAL or (op.name, code) in UNLISTED or (code == "422" and _takes_input(op)):
            pointer = "/components/schemas/" + ("validation-error" if code == "422" else "basic-error")
        else:
            return [f"{where}, a status the description does not list for it (it lists {sorted(op.responses)})"]
        return [
            f"{where}: at {'/'.join(map(str, e.absolute_path)) or 'the top'}: {e.message}"
            for e in self._errors(pointer, body)[:3]
        ]


def _kinds(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type", [])
    return kind if isinstance(kind, list) else [kind]


def _takes_input(op: Operation) -> bool:
    return op.body is not None or any(p["in"] == "query" for p in op.parameters)
