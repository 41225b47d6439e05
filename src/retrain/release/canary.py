"""Canary analysis for the `local` target (in the spirit of Flagger's and Argo Rollouts' analysis): while the front
sends `deploy.canary.share` of requests to the new release, compare it with the champion on the same period.

What is compared, from the front's access log (one JSON line per request, front.py), by the upstream address that
answered: the share of requests that were not answered 2xx (a 503 shed, a 4xx the champion does not give, a failed
connection: nginx then retries on the champion, and the attempt counts against the canary), and the p99 of the
release's own latency; from the inference log, when the releases write one ($RETRAIN_INFERENCE_LOG, a local folder),
the distribution of the probabilities each answered (Kolmogorov-Smirnov distance; lines are joined to the releases
through the request id the front gave each request). Without that log only errors and latency decide, and the
table says so.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from scipy import stats

from retrain.params import Canary


@dataclass
class Side:
    """What one release did in the period."""

    requests: int = 0
    errors: int = 0
    seconds: list[float] = field(default_factory=list)
    request_ids: set[str] = field(default_factory=set)
    probabilities: list[float] = field(default_factory=list)

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def p99(self) -> float:
        if not self.seconds:
            return 0.0
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass
class Period:
    """The access log read so far: from `offset` on, by the upstream address that answered (`host:port`)."""

    champion: str
    canary: str
    offset: int
    sides: tuple[Side, Side] = field(default_factory=lambda: (Side(), Side()))


def read_access(path: Path, period: Period) -> tuple[Side, Side]:
    """Add the access log's new lines to the period's two sides (a line nginx is still writing waits for the next
    read); the sides."""
    sides = {period.champion: period.sides[0], period.canary: period.sides[1]}
    if not path.exists():
        return period.sides
    with path.open("rb") as handle:
        handle.seek(period.offset)
        for raw in handle:
            if not raw.endswith(b"\n"):
                break
            period.offset += len(raw)
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            addresses = [part.strip() for part in str(line.get("upstream", "")).split(",") if part.strip()]
            statuses = [part.strip() for part in str(line.get("upstream_status", "")).split(",")]
            times = [part.strip() for part in str(line.get("upstream_seconds", "")).split(",")]
            for attempt, address in enumerate(addresses):
                side = sides.get(address)
                if side is None:
                    continue
                status = statuses[attempt] if attempt < len(statuses) else ""
                side.requests += 1
                side.errors += not status.startswith("2")
                if attempt == len(addresses) - 1:  # the one that answered: its probabilities are in the log
                    side.request_ids.add(str(line.get("request_id", "")))
                if attempt < len(times) and times[attempt].replace(".", "", 1).isdigit():
                    side.seconds.append(float(times[attempt]))
    return period.sides


def read_probabilities(folder: Path | None, since: float, sides: tuple[Side, Side]) -> bool:
    """Fill each side's probabilities from the inference log lines of its requests; False when there is no log."""
    if folder is None or not folder.is_dir():
        return False
    owner = {request_id: side for side in sides for request_id in side.request_ids}
    for path in sorted(folder.glob("predictions-*.jsonl")):
        if path.stat().st_mtime < since:
            continue  # closed before the canary started
        for raw in path.read_bytes().splitlines():
            try:
                line = json.loads(raw)
                side = owner.get(str(line["request_id"]).split("/", 1)[0])
                if side is not None:
                    side.probabilities.append(float(line["probability"]))
            except (ValueError, KeyError, TypeError):
                continue
    return True


@dataclass
class Verdict:
    promote: bool
    reason: str
    table: str


def judge(settings: Canary, champion: Side, canary: Side, with_log: bool, timed_out: bool) -> Verdict:
    """Promote when every measure is within its bound; a canary that answered too few requests by the time limit
    is judged by `on_low_traffic`."""
    slack = settings.p99_slack_ms / 1000
    p99_bound = max(champion.p99 * settings.max_p99_ratio, champion.p99 + slack)
    rows = [
        ("requests", f"{champion.requests}", f"{canary.requests}", f">= {settings.requests}", ""),
        (
            "not 2xx",
            f"{champion.error_ratio:.2%}",
            f"{canary.error_ratio:.2%}",
            f"<= champion + {settings.max_error_increase:.2%}",
            "ok" if canary.error_ratio <= champion.error_ratio + settings.max_error_increase else "FAIL",
        ),
        (
            "p99 latency",
            f"{champion.p99 * 1000:.0f} ms",
            f"{canary.p99 * 1000:.0f} ms",
            f"<= {p99_bound * 1000:.0f} ms",
            "ok" if canary.p99 <= p99_bound else "FAIL",
        ),
    ]
    if with_log and champion.probabilities and canary.probabilities:
        distance = float(stats.ks_2samp(champion.probabilities, canary.probabilities).statistic)
        counts = f"{len(champion.probabilities)} / {len(canary.probabilities)} predictions"
        verdict = "ok" if distance <= settings.max_ks else "FAIL"
        rows.append(("probabilities (KS)", counts, f"{distance:.3f}", f"<= {settings.max_ks}", verdict))
        note = ""
    else:
        why = "no inference log on this machine" if not with_log else "no inference log lines for the period"
        note = f"\n\nProbabilities not compared ({why}, $RETRAIN_INFERENCE_LOG): errors and latency decided."
    failed = [row[0] for row in rows if row[4] == "FAIL"]
    low = canary.requests < settings.requests
    if failed:
        promote, reason = False, f"the canary is worse than the champion: {', '.join(failed)}"
    elif low and timed_out:
        promote = settings.on_low_traffic == "promote"
        action = "promoted anyway" if promote else "routed back"
        reason = (
            f"too little traffic to judge: the canary answered {canary.requests} of {settings.requests} requests "
            f"in {settings.minutes:g} min ({action}: deploy.canary.on_low_traffic is {settings.on_low_traffic})"
        )
    else:
        promote, reason = True, "the canary is within every bound"
    header = "| measure | champion | canary | bound | |\n|---|---|---|---|---|\n"
    body = "".join(f"| {' | '.join(row)} |\n" for row in rows)
    share = f"{settings.share:.0%} of requests"
    return Verdict(promote, reason, f"### Canary ({share}): {reason}\n\n{header}{body}{note}\n")


def log_folder() -> Path | None:
    """The inference log the releases write (the deployer's $RETRAIN_INFERENCE_LOG; a URL is not read here)."""
    folder = os.environ.get("RETRAIN_INFERENCE_LOG", "")
    return Path(folder) if folder and "://" not in folder else None


def enough(settings: Canary, champion: Side, canary: Side) -> bool:
    """The canary can be judged now: it answered `requests`, or failed so often that no later answer can save it."""
    hopeless = canary.errors > (champion.error_ratio + settings.max_error_increase) * settings.requests
    return canary.requests >= settings.requests or hopeless
