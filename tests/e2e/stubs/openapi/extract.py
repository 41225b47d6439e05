"""Extract from GitHub's REST API description the operations this project calls, for the GitHub stand-in to hold
every request and answer to (tests/e2e/stubs/openapi/__init__.py). Run by hand when the list or the package changes:

    npm pack @octokit/openapi@23.0.2 && tar xzf octokit-openapi-23.0.2.tgz
    python tests/e2e/stubs/openapi/extract.py package/generated/api.github.com.json

It writes github-rest.json beside this file: the package and version it came from; for each operation of OPERATIONS
its method, path, parameters (`$ref`s resolved), request body schema and responses (status: schema, and the first
example the description gives, which the stand-in builds its answers on); and only the components/schemas those
reference, transitively. OpenAPI 3.0's `nullable: true` becomes JSON Schema (a type list with "null", or anyOf
null), so the extract is plain JSON Schema (draft 2020-12), and descriptions, titles, examples inside schemas and
vendor extensions are dropped. The tests never run this script."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

PACKAGE, VERSION, FILE = "@octokit/openapi", "23.0.2", "generated/api.github.com.json"
OUT = Path(__file__).with_name("github-rest.json")

OPERATIONS = (
    # the calls the workflows, `retrain github` and CML make today
    "pulls/list",
    "pulls/create",
    "pulls/get",
    "pulls/update",
    "issues/list-comments",
    "issues/create-comment",
    "issues/update-comment",
    "repos/create-commit-status",
    "actions/create-workflow-dispatch",
    "repos/get-release-by-tag",
    "repos/get-release-asset",
    # labels and issues (the alert issues), and a repository's settings (checked and set up by `retrain github`)
    "issues/get-label",
    "issues/create-label",
    "issues/update-label",
    "issues/list-for-repo",
    "issues/create",
    "repos/get",
    "actions/get-github-actions-permissions-repository",
    "actions/set-github-actions-permissions-repository",
    "actions/list-repo-workflows",
    "actions/enable-workflow",
    "actions/get-github-actions-default-workflow-permissions-repository",
    "actions/set-github-actions-default-workflow-permissions-repository",
    "repos/get-environment",
    "repos/create-or-update-environment",
    "repos/list-deployment-branch-policies",
    "repos/create-deployment-branch-policy",
    "repos/get-deployment-branch-policy",  # where create-deployment-branch-policy's 303 for a known name points
    "repos/get-branch-protection",
    "repos/update-branch-protection",
    "actions/get-repo-variable",
    "actions/create-repo-variable",
    "actions/update-repo-variable",
    "actions/list-repo-secrets",
    "actions/list-environment-secrets",
    "actions/list-self-hosted-runners-for-repo",
    "repos/get-branch",
)

# the JSON Schema keywords kept; everything else (description, title, example, readOnly, deprecated, x-...) goes
KEYWORDS = {
    "type", "enum", "const", "format", "default", "required", "properties", "additionalProperties", "items",
    "anyOf", "oneOf", "allOf", "not", "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems",
    "maxItems", "uniqueItems", "minProperties", "maxProperties", "$ref",
}  # fmt: skip


def schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema 2020-12: `nullable` folded in, non-validating keywords dropped."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in KEYWORDS:
            continue
        if key == "properties":
            out[key] = {name: schema(sub) for name, sub in value.items()}
        elif key in ("anyOf", "oneOf", "allOf"):
            out[key] = [schema(sub) for sub in value]
        elif key in ("items", "additionalProperties", "not"):
            out[key] = schema(value)
        else:
            out[key] = value
    if node.get("nullable"):
        if "$ref" in out or "type" not in out:
            return {"anyOf": [out, {"type": "null"}]}
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"] if "null" not in types else types
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def resolve(description: dict[str, Any], node: Any) -> Any:
    """A `$ref` to #/components/parameters|responses|examples|requestBodies replaced by its target."""
    while isinstance(node, dict) and "$ref" in node and not node["$ref"].startswith("#/components/schemas/"):
        target: Any = description
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(value) for value in node))
    return set()


def json_content(content: dict[str, Any]) -> dict[str, Any] | None:
    for media, value in content.items():
        if re.fullmatch(r"application/(.+\+)?json", media):
            return value  # type: ignore[no-any-return]
    return None


def operation(description: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> dict[str, Any]:
    parameters = []
    for given in op.get("parameters", []):
        parameter = resolve(description, given)
        if parameter["in"] not in ("path", "query"):
            continue
        kept = {"name": parameter["name"], "in": parameter["in"], "required": parameter.get("required", False)}
        kept["schema"] = schema(parameter.get("schema", {}))
        if parameter.get("x-multi-segment"):
            kept["x-multi-segment"] = True  # the value may hold slashes (a branch name)
        parameters.append(kept)
    out: dict[str, Any] = {"method": method.upper(), "path": path, "parameters": parameters}
    body = resolve(description, op.get("requestBody"))
    if body:
        content = json_content(body.get("content", {}))
        assert content is not None, f"{op['operationId']}: a request body that is not JSON"
        out["requestBody"] = {"required": body.get("required", False), "schema": schema(content.get("schema", {}))}
    responses: dict[str, Any] = {}
    for status, given in op["responses"].items():
        response = resolve(description, given)
        content = json_content(response.get("content", {}))
        kept = {}
        if content is not None:
            kept["schema"] = schema(content.get("schema", {}))
            examples = content.get("examples") or {}
            if examples:
                kept["example"] = resolve(description, next(iter(examples.values())))["value"]
            elif "example" in content:
                kept["example"] = content["example"]
        responses[status] = kept
    out["responses"] = responses
    return out


def extract(description: dict[str, Any]) -> dict[str, Any]:
    found = {
        op["operationId"]: (path, method, op)
        for path, item in description["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }
    missing = [name for name in OPERATIONS if name not in found]
    assert not missing, f"not in the description: {missing}"
    operations = {name: operation(description, *found[name]) for name in OPERATIONS}
    components = description["components"]["schemas"]
    wanted, todo = set(), refs(operations)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo |= refs(components[name])
    schemas = {name: schema(components[name]) for name in sorted(wanted)}
    return {
        "source": {"package": PACKAGE, "version": VERSION, "file": FILE, "openapi": description["openapi"]},
        "operations": operations,
        "components": {"schemas": schemas},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("description", type=Path, help=f"{FILE} of {PACKAGE} {VERSION}")
    description = json.loads(parser.parse_args().description.read_text())
    assert description["info"]["version"] == VERSION, f"the description is {description['info']['version']}"
    OUT.write_text(json.dumps(extract(description), indent=1, ensure_ascii=False) + "\n")
    print(f"{OUT}: {len(OPERATIONS)} operations, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
