"""The alert rules and the Grafana dashboard query only what the service exports (or what the rules record)."""

from __future__ import annotations

import json
import re

import yaml

from tests.support import ROOT

SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def _exported() -> set[str]:
    source = (ROOT / "src/retrain/serving/service.py").read_text()
    return set(re.findall(r'name="(retrain_[a-z_]+)"', source))


def _referenced(text: str) -> set[str]:
    names = set(re.findall(r"\b(retrain_[a-z_]+)", text))
    return {next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name) for name in names}


def test_rules_and_dashboard_name_only_exported_or_recorded_series() -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/rules.yml").read_text())
    recorded = {rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule}
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((ROOT / "deploy/grafana/service.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exported = _exported()
    assert {"retrain_http_requests", "retrain_shed_requests", "retrain_inference_log_dropped"} <= exported
    for expr in [*exprs, *queries]:
        assert _referenced(expr) <= exported, (expr, _referenced(expr) - exported)
        for name in re.findall(r"\b(retrain:[a-z_0-9:]+)", expr):
            assert name in recorded, (expr, name)
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    assert alerts == {
        "RetrainPredictErrors",
        "RetrainPredictSlow",
        "RetrainShedding",
        "RetrainInferenceLogDropping",
        "RetrainPositiveShareDrift",
    }
