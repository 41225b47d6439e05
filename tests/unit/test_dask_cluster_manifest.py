"""deploy/dask/cluster.yaml against the DaskCluster CRD that the dask-kubernetes operator installs (the resolved CRD
its Helm chart ships, in the pinned dask-kubernetes package), strictly: a field the CRD does not declare is an error,
as with `kubectl apply --validate=strict` (the API server would otherwise prune it without a word)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import dask_kubernetes
import jsonschema
import pytest
import yaml

from tests.support import ROOT

MANIFEST = ROOT / "deploy/dask/cluster.yaml"
CRD = Path(dask_kubernetes.__file__).parent / "operator/deployment/helm/dask-kubernetes-operator/crds/daskcluster.yaml"


def _strict(schema: Any) -> Any:
    """The schema with every object that lists its properties closed to others (unless it keeps unknown fields)."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema.setdefault("additionalProperties", False)
    elif isinstance(schema, list):
        schema = [_strict(item) for item in schema]
    return schema


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    crd = yaml.safe_load(CRD.read_text())
    version = next(entry for entry in crd["spec"]["versions"] if entry["name"] == "v1")
    schema = _strict(version["schema"]["openAPIV3Schema"])
    schema["properties"]["apiVersion"] = {"const": f"{crd['spec']['group']}/v1"}
    schema["properties"]["kind"] = {"const": crd["spec"]["names"]["kind"]}
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: the API server's own schema
    return jsonschema.Draft7Validator(schema)


def test_the_cluster_manifest_is_a_daskcluster_the_operator_accepts(validator: jsonschema.Draft7Validator) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert [error.message for error in validator.iter_errors(manifest)] == []
    worker = manifest["spec"]["worker"]["spec"]["containers"][0]
    assert worker["args"][:2] == ["dask", "worker"] and "--nthreads" in worker["args"]
    assert {"name": "DASK_DATAFRAME__CONVERT_STRING", "value": "False"} in worker["env"]


def test_a_misspelt_field_is_an_error(validator: jsonschema.Draft7Validator) -> None:
    manifest = copy.deepcopy(yaml.safe_load(MANIFEST.read_text()))
    manifest["spec"]["worker"]["replica"] = manifest["spec"]["worker"].pop("replicas")
    assert any("'replica' was unexpected" in error.message for error in validator.iter_errors(manifest))
