"""`retrain alert`: the alert text for a monitoring verdict, and its Slack-style webhook payload.

The workflow opens or updates one GitHub issue with this text (deduplicated by the label `LABEL`); when a webhook URL
is configured, `retrain alert --webhook URL` POSTs the same text as JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from retrain.decision.report import run_url
from retrain.errors import BadInput
from retrain.io import http
from retrain.params import Params
from retrain.results import MonitorVerdict

log = logging.getLogger(__name__)
LABEL = "retrain-alert"


def title(verdict: MonitorVerdict) -> str:
    if verdict.blind:
        return "Monitoring is blind: " + verdict.reasons[0].removeprefix("monitoring is blind: ")
    if not verdict.retrain:
        return "Monitoring: no retraining needed"
    more = len(verdict.reasons) - 1
    return f"Retraining triggered: {verdict.reasons[0]}" + (f" (+{more} more)" if more else "")


def render(verdict: MonitorVerdict, env: Mapping[str, str]) -> str:
    """Markdown: what fired, the numbers behind every check, and links."""
    checks = verdict.checks
    lines = [f"## {title(verdict)}", "", f"Checked at {verdict.checked_at}."]
    if verdict.reasons:
        lines += ["", "**What fired:**", *[f"- {reason}" for reason in verdict.reasons]]
    volume = checks.volume
    lines += ["", "| check | numbers |", "|---|---|"]
    lines.append(f"| volume | {volume.predictions:,} predictions in {volume.window_days} days {volume.note or ''} |")
    if checks.drift:
        top = sorted(checks.drift.psi.items(), key=lambda item: -item[1])[:3]
        psi = ", ".join(f"{name} {value:.2f}" for name, value in top)
        lines.append(f"| drift | {checks.drift.summary} Largest PSI: {psi} |")
    if checks.performance:
        performance = checks.performance
        live = f"live ROC AUC {performance.roc_auc:.4f}" if performance.roc_auc is not None else performance.note
        promoted = "unknown" if performance.promoted_roc_auc is None else f"{performance.promoted_roc_auc:.4f}"
        lines.append(f"| performance | {live} on {performance.labelled:,} labelled; promoted {promoted} |")
    staleness = checks.staleness
    days = "? days" if staleness.days is None else f"{staleness.days} day{'' if staleness.days == 1 else 's'}"
    lines.append(
        f"| staleness | training data until {staleness.training_data_until[:10]}, newest row scored "
        f"{(staleness.newest_row or 'None')[:10]} ({days}) |"
    )
    link = run_url(env)
    if link:
        lines += ["", f"Monitoring run: {link}"]
    return "\n".join(lines) + "\n"


def payload(verdict: MonitorVerdict, env: Mapping[str, str]) -> dict[str, Any]:
    """Slack-style JSON: `text` for chat, plus the machine-readable verdict."""
    return {"text": render(verdict, env), "retrain": verdict.retrain, "reasons": verdict.reasons, "label": LABEL}


def post(url: str, body: dict[str, Any], timeout: float = 10) -> int:
    """POST the payload; returns the HTTP status, raises `ConnectionError` with the URL on failure."""
    status, answer = http.request(url, body, timeout)
    if not 200 <= status < 300:
        raise ConnectionError(f"webhook {url} failed: {status or ''} {answer[:200].decode(errors='replace')}".strip())
    return status


def alert(params: Params, webhook: str | None, env: Mapping[str, str]) -> MonitorVerdict:
    """`retrain alert`: render the last verdict to reports/alert.md; POST it to the webhook when retraining or when
    monitoring is blind."""
    verdict = MonitorVerdict.read(params.paths.monitor)
    params.paths.alert.write_text(render(verdict, env))
    url = webhook or env.get("RETRAIN_WEBHOOK_URL")
    if url and (verdict.retrain or verdict.blind):
        try:
            status = post(url, payload(verdict, env))
        except ConnectionError as error:
            raise BadInput(str(error)) from error
        log.info("alert: posted to the webhook (HTTP %d)", status)
    return verdict
