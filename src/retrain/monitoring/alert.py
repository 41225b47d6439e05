"""`retrain alert`: the alert text for a monitoring verdict, and its Slack-style webhook payload.

The workflow opens or updates one GitHub issue with this text (deduplicated by the label `LABEL`); when a webhook URL
is configured, `retrain alert --webhook URL` POSTs the same text as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrain.decision.report import run_url
from retrain.io import http

LABEL = "retrain-alert"


def title(verdict: dict[str, Any]) -> str:
    if not verdict["retrain"]:
        return "Monitoring: no retraining needed"
    return f"Retraining triggered: {verdict['reasons'][0]}" + (
        f" (+{len(verdict['reasons']) - 1} more)" if len(verdict["reasons"]) > 1 else ""
    )


def render(verdict: dict[str, Any], env: Mapping[str, str]) -> str:
    """Markdown: what fired, the numbers behind every check, and links."""
    checks = verdict["checks"]
    lines = [f"## {title(verdict)}", "", f"Checked at {verdict['checked_at']}."]
    if verdict["reasons"]:
        lines += ["", "**What fired:**", *[f"- {reason}" for reason in verdict["reasons"]]]
    volume = checks["volume"]
    lines += ["", "| check | numbers |", "|---|---|"]
    lines.append(
        f"| volume | {volume['predictions']:,} predictions in {volume['window_days']} days {volume.get('note', '')} |"
    )
    if "drift" in checks:
        top = sorted(checks["drift"]["psi"].items(), key=lambda item: -item[1])[:3]
        psi = ", ".join(f"{name} {value:.2f}" for name, value in top)
        lines.append(f"| drift | {checks['drift']['summary']} Largest PSI: {psi} |")
    if "performance" in checks:
        performance = checks["performance"]
        live = f"live ROC AUC {performance['roc_auc']:.4f}" if "roc_auc" in performance else performance.get("note", "")
        promoted = performance["promoted_roc_auc"]
        lines.append(f"| performance | {live} on {performance['labelled']:,} labelled; promoted {promoted} |")
    staleness = checks["staleness"]
    lines.append(
        f"| staleness | training data until {staleness['training_data_until'][:10]}, newest flight "
        f"{staleness['newest_flight'][:10]} ({staleness.get('days', '?')} days) |"
    )
    link = run_url(env)
    if link:
        lines += ["", f"Monitoring run: {link}"]
    return "\n".join(lines) + "\n"


def payload(verdict: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Slack-style JSON: `text` for chat, plus the machine-readable verdict."""
    return {"text": render(verdict, env), "retrain": verdict["retrain"], "reasons": verdict["reasons"], "label": LABEL}


def post(url: str, body: dict[str, Any], timeout: float = 10) -> int:
    """POST the payload; returns the HTTP status, raises `ConnectionError` with the URL on failure."""
    status, answer = http.request(url, body, timeout)
    if not 200 <= status < 300:
        raise ConnectionError(f"webhook {url} failed: {status or ''} {answer[:200].decode(errors='replace')}".strip())
    return status
