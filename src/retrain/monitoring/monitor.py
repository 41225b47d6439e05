"""`retrain monitor`: should the model be retrained? Drift of recent traffic, live performance, staleness, volume.

Reads the service's inference log (JSON lines, one object per prediction) and, where they have arrived, the labels
(the domain's outcome per row, arriving later). The checks are pure functions; `run` reads the files and writes the
verdict.

A log record: {"request_id": str, "timestamp": ISO 8601, "model": md5, "features": {raw model inputs, plus the
domain's label key for the label join}, "probability": float, "shadow_probability": float (optional)}.
A label record: the domain's label key (`Domain.label_key`) and its outcome (`Domain.outcome`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from retrain.domain import Domain, load_domain
from retrain.errors import Failed
from retrain.io import files
from retrain.io.files import InputError
from retrain.monitoring import alert
from retrain.params import Drift, Monitor, Params
from retrain.pipeline import drift
from retrain.results import DriftCheck, MonitorChecks, MonitorVerdict, Performance, Shadow, Staleness, Volume

log = logging.getLogger(__name__)
REQUIRED = {"request_id": str, "timestamp": str, "model": str, "features": dict, "probability": float}


def _typed(frame: pd.DataFrame, domain: Domain, names: Iterable[str]) -> pd.DataFrame:
    """Columns as their contract kind says: numbers, times in UTC (unreadable ones missing) or text (missing stays
    missing)."""
    for column in domain.columns(names):
        if column.kind in ("int", "float"):
            frame[column.name] = pd.to_numeric(frame[column.name], errors="coerce").astype("float64")
        elif column.kind == "datetime":
            frame[column.name] = pd.to_datetime(frame[column.name], errors="coerce", utc=True, format="ISO8601")
        else:
            frame[column.name] = frame[column.name].map(lambda v: v if v is None else str(v)).astype(object)
    return frame


def parse_log(lines: Iterable[str], domain: Domain) -> tuple[pd.DataFrame, int]:
    """The valid records as one row each (features and label key flattened), and how many lines were malformed and
    skipped."""
    inputs = [column.name for column in domain.columns()]
    rows, malformed = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            for key, kind in REQUIRED.items():
                value = record[key]
                if not isinstance(value, kind) and not (kind is float and isinstance(value, int)):
                    raise TypeError(key)
            timestamp = pd.Timestamp(record["timestamp"])
        except (ValueError, KeyError, TypeError):
            malformed += 1
            continue
        row = {name: record["features"].get(name) for name in inputs}
        rows.append(
            row
            | {
                "request_id": record["request_id"],
                "timestamp": timestamp.tz_localize("UTC") if timestamp.tzinfo is None else timestamp.tz_convert("UTC"),
                "model": record["model"],
                "probability": float(record["probability"]),
                "shadow_probability": float(record.get("shadow_probability", "nan")),
            }
        )
    columns = [*inputs, "request_id", "timestamp", "model", "probability", "shadow_probability"]
    frame = pd.DataFrame(rows, columns=columns)
    return _typed(frame, domain, [name for name in inputs if name not in domain.categorical]), malformed


def parse_labels(lines: Iterable[str], domain: Domain) -> tuple[pd.DataFrame, int]:
    """Label records (the label key and the outcome), and how many lines were malformed and skipped."""
    rows, malformed = [], 0
    key = (*domain.label_key, domain.outcome)
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            rows.append({name: record[name] for name in key})
        except (ValueError, KeyError, TypeError):
            malformed += 1
    frame = _typed(pd.DataFrame(rows, columns=list(key)), domain, key)
    return frame.dropna(subset=list(domain.label_key)), malformed


def join_labels(traffic: pd.DataFrame, labels: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """Traffic rows whose label key has a known outcome, with the domain's target (both sides typed alike by
    `parse_log` and `parse_labels`; the newest label of a key wins)."""
    key = list(domain.label_key)
    if labels.empty:
        return traffic.iloc[0:0].assign(**{domain.target: pd.Series(dtype="int8")})
    known = labels.dropna(subset=[domain.outcome]).drop_duplicates(key, keep="last")
    known = known.assign(**{domain.target: domain.labelled(known[domain.outcome])})[[*key, domain.target]]
    return traffic.dropna(subset=key).merge(known, on=key, how="inner")


def _roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def monitor(
    traffic: pd.DataFrame,
    labels: pd.DataFrame,
    reference: pd.DataFrame,
    promoted: dict[str, float],
    training_last: pd.Timestamp,
    now: pd.Timestamp,
    params: Monitor,
    drift_params: Drift,
    domain: Domain,
    threshold: float = 0.5,
) -> MonitorVerdict:
    """Every check over the recent window, and the verdict: retrain if any check fired."""
    recent = traffic[traffic["timestamp"] >= now - pd.Timedelta(days=params.window_days)]
    reasons: list[str] = []
    volume = Volume(predictions=len(recent), window_days=params.window_days)
    drift_check = performance = shadow = None
    if len(recent) < params.min_predictions:
        note = f"fewer than {params.min_predictions} predictions: drift and performance skipped"
        volume = volume.model_copy(update={"note": note})
    else:
        result = drift.drift(reference, recent, drift_params, drift.compared(domain, drift_params))
        drift_check = DriftCheck(
            dataset_drift=result.dataset_drift,
            drifted_share=result.drifted_share,
            drifted_features=result.drifted_features,
            summary=result.summary,
            psi={f.feature: round(f.psi, 4) for f in result.features},
        )
        if result.dataset_drift:
            reasons.append(f"data drift in recent traffic: {', '.join(result.drifted_features)}")

        labelled = join_labels(recent, labels, domain)
        performance = Performance(labelled=len(labelled), promoted_roc_auc=promoted.get("roc_auc"))
        if len(labelled) >= params.min_labelled:
            auc = _roc_auc(labelled[domain.target].to_numpy(), labelled["probability"].to_numpy())
            performance = performance.model_copy(update={"roc_auc": auc})
            floor = promoted["roc_auc"] - params.max_roc_auc_drop
            if auc < floor:
                reasons.append(
                    f"live ROC AUC {auc:.4f} on {len(labelled):,} labelled predictions is below {floor:.4f} "
                    f"(promoted {promoted['roc_auc']:.4f} - {params.max_roc_auc_drop:g})"
                )
        else:
            note = (
                f"fewer than {params.min_labelled} labelled predictions: performance not judged "
                f"({len(labels):,} label records joined {len(labelled):,} of {len(recent):,} predictions by "
                f"{', '.join(domain.label_key)})"
            )
            performance = performance.model_copy(update={"note": note})

    shadowed = recent.dropna(subset=["shadow_probability"])
    if len(shadowed):
        shadow = shadow_agreement(shadowed, threshold)

    newest = _newest(recent, domain)
    staleness = Staleness(training_data_until=str(training_last), newest_row=str(newest) if newest else None)
    if newest is not None:
        age = (newest - training_last).days
        staleness = staleness.model_copy(update={"days": age})
        if age > params.max_staleness_days:
            reasons.append(f"the model's newest training data is {age} days older than the traffic it scores")
    checks = MonitorChecks(
        volume=volume, drift=drift_check, performance=performance, shadow=shadow, staleness=staleness
    )
    return MonitorVerdict(retrain=bool(reasons), reasons=reasons, checked_at=str(now), checks=checks)


def shadow_agreement(traffic: pd.DataFrame, threshold: float) -> Shadow:
    """How often the shadow model would have decided differently from the served one, on real traffic."""
    served = traffic["probability"].to_numpy() >= threshold
    shadow = traffic["shadow_probability"].to_numpy() >= threshold
    return Shadow(
        predictions=len(traffic),
        disagreement_rate=float(np.mean(served != shadow)),
        mean_absolute_difference=float(np.mean(np.abs(traffic["probability"] - traffic["shadow_probability"]))),
    )


def _newest(traffic: pd.DataFrame, domain: Domain) -> pd.Timestamp | None:
    """The time of the newest row scored (rows may be about the future, as a schedule is: this is the traffic's
    'now'), from the model inputs (`Domain.times`); when they hold no time (a model that does not read its row's
    time), the time it was scored."""
    if traffic.empty:
        return None
    logged = domain.row_time is not None or domain.time in traffic.columns
    times = pd.to_datetime(domain.times(traffic) if logged else traffic["timestamp"], errors="coerce", utc=True)
    times = times.dropna()
    return None if times.empty else pd.Timestamp(times.max())


def run(params: Params, root: Path, now: str | None = None) -> MonitorVerdict:
    """`retrain monitor`: judge the inference log and late labels; write reports/monitor.json (and, in GitHub
    Actions, the step outputs `retrain`, `reason` and `blind`, and a job summary). Once a log location is configured
    ($RETRAIN_INFERENCE_LOG), one that is missing, unreadable, or holds no prediction in the window means monitoring
    is blind: the verdict says so and the command fails (it never reads as "not enough volume, no retrain")."""
    paths, domain = params.paths, load_domain(params)
    configured = os.environ.get("RETRAIN_INFERENCE_LOG")
    log_dir = configured or str(params.monitor.log_dir)
    labels_dir = os.environ.get("RETRAIN_LABELS") or str(params.monitor.labels_dir)
    blind = None
    try:
        lines = files.read_lines(log_dir, missing_ok=not configured)
    except InputError as error:
        lines, blind = [], str(error)
    traffic, malformed = parse_log(lines, domain)
    labels, malformed_labels = parse_labels(files.read_lines(labels_dir), domain)
    verdict = monitor(
        traffic,
        labels,
        files.read_frame(paths.train),
        files.read_json(paths.metrics),
        pd.Timestamp(files.read_json(paths.model_meta)["training_window"]["last"]),
        pd.Timestamp(now) if now else pd.Timestamp.now(tz="UTC"),
        params.monitor,
        params.drift,
        domain,
        params.evaluate.threshold,
    ).model_copy(
        update={
            "inference_log": log_dir,
            "malformed_lines": malformed,
            "malformed_label_lines": malformed_labels,
            "models_seen": sorted(traffic["model"].dropna().unique().tolist()),
        }
    )
    if configured and blind is None and verdict.checks.volume.predictions == 0:
        blind = f"{log_dir}: no prediction in the last {params.monitor.window_days} days ({len(traffic)} older)"
    if blind:
        update = {"retrain": False, "reasons": [f"monitoring is blind: {blind}"], "blind": True}
        verdict = verdict.model_copy(update=update)
    verdict.write(paths.monitor)
    reason = "; ".join(verdict.reasons).replace("\n", " ")
    outputs = f"retrain={str(verdict.retrain).lower()}\nreason={reason}\nblind={str(verdict.blind).lower()}\n"
    files.append_text("GITHUB_OUTPUT", outputs)
    files.append_text("GITHUB_STEP_SUMMARY", alert.render(verdict, os.environ))
    if malformed or malformed_labels:
        log.warning(
            "monitor: skipped %d malformed log line(s), %d malformed label line(s)", malformed, malformed_labels
        )
    if blind:
        raise Failed(f"monitor: monitoring is blind: {blind}")
    log.info("monitor: retrain=%s %s", verdict.retrain, "; ".join(verdict.reasons) or "(nothing fired)")
    return verdict
