"""Canary analysis for the `local` target (in the spirit of Flagger's and Argo Rollouts' analysis): while the front
sends `deploy.canary.share` of requests to the new release, compare it with the champion on the same period.

What is compared, from the front's access log (one JSON line per request, front.py), by the upstream address that
answered: the share of requests that were not answered 2xx (a 503 shed, a 4xx the champion does not give, a failed
connection: nginx then retries on the champion, and the attempt counts against the canary), and the p99 of the
release's own latency; from the inference log, when the releases write one ($RETRAIN_INFERENCE_LOG, a local folder),
the distribution of the probabilities each answered (Kolmogorov-Smirnov distance; lines are joined to the releases
through the request id the front gave each request). Without that log only errors and latency decide, and the
table says so.

A measure with a test fails only when the canary is beyond its bound by more than chance (`deploy.canary.alpha`):
clients send some bad requests to either release, and 200 requests hold too few of them for a raw ratio to tell a
worse canary from an unlucky one. Errors: a one-sided binomial test against the champion's ratio plus
`max_error_increase` (the champion's ratio, measured on the larger share, is taken as known). Probabilities: the KS
test, when the distance is beyond `max_ks`. Latency: the same binomial test on the canary's answers slower than the
p99 bound (a ratio of the champion's p99, or a slack in ms) against 1 %: the p99 of a few dozen answers is their
slowest, and one answer delayed by a busy machine is chance, not a slower model.
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


def _beyond_p(count: int, requests: int, bound: float) -> float | None:
    """The one-sided binomial test's p-value for `count` of `requests` against the share `bound`; None within it."""
    if count <= bound * requests:
        return None
    return float(stats.binomtest(count, requests, min(bound, 1.0), alternative="greater").pvalue)


def _errors_p(settings: Canary, champion: Side, errors: int, requests: int) -> float | None:
    """The binomial test's p-value for `errors` of `requests` against the bound; None when within it."""
    return _beyond_p(errors, requests, champion.error_ratio + settings.max_error_increase)


def judge(settings: Canary, champion: Side, canary: Side, with_log: bool, timed_out: bool) -> Verdict:
    """Promote when no measure is beyond its bound by more than chance; a canary that answered too few requests by
    the time limit is judged by `on_low_traffic`."""
    slack, alpha = settings.p99_slack_ms / 1000, settings.alpha
    p99_bound = max(champion.p99 * settings.max_p99_ratio, champion.p99 + slack)
    errors_p = _errors_p(settings, champion, canary.errors, canary.requests)
    slow_p = _beyond_p(sum(seconds > p99_bound for seconds in canary.seconds), len(canary.seconds), 0.01)
    rows = [
        ("requests", f"{champion.requests}", f"{canary.requests}", f">= {settings.requests}", "", ""),
        (
            "not 2xx",
            f"{champion.error_ratio:.2%}",
            f"{canary.error_ratio:.2%}",
            f"<= champion + {settings.max_error_increase:.2%}",
            "" if errors_p is None else f"{errors_p:.3g}",
            "FAIL" if errors_p is not None and errors_p < alpha else "ok",
        ),
        (
            "p99 latency",
            f"{champion.p99 * 1000:.0f} ms",
            f"{canary.p99 * 1000:.0f} ms",
            f"<= {p99_bound * 1000:.0f} ms",
            "" if slow_p is None else f"{slow_p:.3g}",
            "FAIL" if slow_p is not None and slow_p < alpha else "ok",
        ),
    ]
    if with_log and champion.probabilities and canary.probabilities:
        ks = stats.ks_2samp(champion.probabilities, canary.probabilities)
        distance, ks_p = float(ks.statistic), float(ks.pvalue)
        counts = f"{len(champion.probabilities)} / {len(canary.probabilities)} predictions"
        verdict = "FAIL" if distance > settings.max_ks and ks_p < alpha else "ok"
        p_text = f"{ks_p:.3g}" if distance > settings.max_ks else ""
        rows.append(("probabilities (KS)", counts, f"{distance:.3f}", f"<= {settings.max_ks}", p_text, verdict))
        note = ""
    else:
        why = "no inference log on this machine" if not with_log else "no inference log lines for the period"
        note = f"\n\nProbabilities not compared ({why}, $RETRAIN_INFERENCE_LOG): errors and latency decided."
    failed = [row[0] for row in rows if row[5] == "FAIL"]
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
    header = f"| measure | champion | canary | bound | p (fails below {alpha:g}) | |\n|---|---|---|---|---|---|\n"
    body = "".join(f"| {' | '.join(row)} |\n" for row in rows)
    share = f"{settings.share:.0%} of requests"
    return Verdict(promote, reason, f"### Canary ({share}): {reason}\n\n{header}{body}{note}\n")


def log_folder() -> Path | None:
    """The inference log the releases write (the deployer's $RETRAIN_INFERENCE_LOG; a URL is not read here)."""
    folder = os.environ.get("RETRAIN_INFERENCE_LOG", "")
    return Path(folder) if folder and "://" not in folder else None


def enough(settings: Canary, champion: Side, canary: Side) -> bool:
    """The canary can be judged now: it answered `requests`, or has so many errors already that it would fail even
    if every later answer of the `requests` were good."""
    hopeless = _errors_p(settings, champion, canary.errors, settings.requests)
    return canary.requests >= settings.requests or (hopeless is not None and hopeless < settings.alpha)
