"""The BentoML service: serves exactly the model that dvc.lock names, and nothing else.

`POST /predict {"records": [...]}` answers `{"predictions", "probabilities", "model"}`; `GET /metadata` describes the
model; `GET /metrics` is Prometheus text with bounded labels. BentoML adds `/healthz`, `/livez`, `/readyz`. The
routes are a FastAPI app mounted on the service, so that every bad request gets a 4xx with a readable message and
no traceback (BentoML's own API layer logs a traceback at ERROR for each 400). Preprocessing is the fitted Pipeline:
nothing here re-implements a feature (its trees are scored by Treelite once they give the same numbers: scorer.py).

Configuration (environment): RETRAIN_ROOT (repository root, default: where BentoML serves from), RETRAIN_INFERENCE_LOG
(folder for the JSON-lines inference log; unset = no log), RETRAIN_LOG_SHIP (an fsspec URL the closed log files are
uploaded to, with the serving machine's own credentials), RETRAIN_SHADOW_MODEL (a second model file to score every
request with, logged but never returned).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import bentoml
import orjson
import prometheus_client
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import multiprocess
from pydantic import ValidationError

from retrain.domain import Domain, load_domain
from retrain.io import files, modelfile, vcs
from retrain.params import ParamsError, load
from retrain.serving.batching import Batcher, Overloaded, RecordFailed
from retrain.serving.inference_log import InferenceLog, Retention
from retrain.serving.request import PredictRequest, openapi, records_frame, request_model
from retrain.serving.scorer import Scorer

log = logging.getLogger("retrain.serve")


def _root() -> Path:
    """RETRAIN_ROOT, else the directory BentoML serves from: it imports this module there (a Bento's src/, or where
    `bentoml serve` ran)."""
    return Path(os.environ.get("RETRAIN_ROOT") or ".").resolve()


def _domain() -> Domain:
    """The domain params.yaml names: the request model, the names and the Pipeline's steps are its."""
    try:
        return load_domain(load(_root() / "params.yaml"))
    except ParamsError as error:
        logging.getLogger("bentoml").critical("%s: refusing to serve", error)
        raise SystemExit(2) from None


DOMAIN = _domain()
app = FastAPI(title=DOMAIN.name, openapi_url=None)

PREDICTIONS = bentoml.metrics.Counter(
    name="retrain_predictions", documentation="Predictions made, by class", labelnames=["predicted", "model"]
)
LATENCY = bentoml.metrics.Histogram(
    name="retrain_predict_seconds",
    documentation="Time to validate, score and answer one /predict request",
    labelnames=["model"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
)
REJECTED = bentoml.metrics.Counter(
    name="retrain_rejected_requests", documentation="Requests answered 4xx, by reason", labelnames=["reason"]
)
SHED = bentoml.metrics.Counter(
    name="retrain_shed_requests",
    documentation="Requests answered 503 with Retry-After because waiting would pass serve.latency_budget_seconds",
    labelnames=["reason"],
)
HTTP = bentoml.metrics.Counter(
    name="retrain_http_requests",
    documentation="HTTP requests to the service's routes, by route (an unknown path is `other`) and status",
    labelnames=["route", "code"],
)
DROPPED = bentoml.metrics.Counter(
    name="retrain_inference_log_dropped",
    documentation="Inference log lines dropped, by reason (queue_full, write_error_<errno>)",
    labelnames=["reason"],
)
PROMOTED_POSITIVE_SHARE = bentoml.metrics.Gauge(
    name="retrain_promoted_positive_share",
    documentation="Share of positive predictions the model made on its test window (what live traffic is held to)",
    multiprocess_mode="max",
)
SHADOW = bentoml.metrics.Counter(
    name="retrain_shadow_requests",
    documentation="Requests the shadow model scored after the answer was sent, by outcome (scored, error, shed)",
    labelnames=["outcome"],
)


REQUEST_ID = re.compile("[0-9a-f]{32}")
ROUTES = ("/", "/predict", "/metadata", "/metrics")  # the app's routes, the only values of the label `route`
# The API's page: Swagger UI from the assets BentoML bundles, reading /docs.json. It replaces BentoML's index page,
# which loads Google Tag Manager: nothing here may reach the internet, nor make a reader's browser do so.
INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><title>{title}</title>
<link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css" /></head>
<body><div id="swagger-ui"></div>
<script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
<script>window.ui = SwaggerUIBundle({url: "./docs.json", dom_id: "#swagger-ui"});</script>
</body></html>
"""


class CountRequests:
    """Counts the app's requests by route template and status: bounded labels. (A path that is no route of the app
    never reaches it: BentoML answers 404 itself. BentoML's own HTTP metrics label every raw path, so a client
    sending random paths grew /metrics for ever: they are switched off.)"""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in ROUTES else "other"

        async def counting(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                HTTP.labels(route=route, code=str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting)


app.add_middleware(CountRequests)


def verified_model(root: Path, path: Path) -> tuple[Any, str]:
    """Load the model file after checking that it is the one dvc.lock names."""
    md5 = modelfile.locked(root, path)
    return modelfile.load(root / path), md5


def _reject(status: int, reason: str, message: str, detail: Any = None) -> JSONResponse:
    REJECTED.labels(reason=reason).inc()
    log.info("rejected %s: %s", reason, message)
    return JSONResponse({"error": message, **({"detail": detail} if detail else {})}, status_code=status)


def _shadow(path: str | None) -> tuple[Any, str | None]:
    """The shadow model, if one is configured and loads; a missing or unloadable one is a warning, not a refusal:
    the champion serves alone."""
    if not path:
        return None, None
    try:
        return modelfile.load(Path(path)), files.md5(Path(path))
    except Exception as error:  # a shadow is an experiment: it never stops the champion from serving
        log.warning("shadow model %s cannot be used (%s: %s): serving without it", path, type(error).__name__, error)
        return None, None


def _readable(error: ValidationError) -> list[str]:
    return [f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" for issue in error.errors()]


@bentoml.service(
    name=DOMAIN.bento,  # the Bento's name (`retrain name`)
    workers=1,
    traffic={"timeout": 30, "max_concurrency": 128},
    logging={"access": {"enabled": False}},  # a log line per request costs throughput; /metrics counts them
    metrics={"enabled": False},  # BentoML's labels every raw path; /metrics is this app's, with bounded labels
)
@bentoml.asgi_app(app, path="/")
class Service:
    @bentoml.on_deployment
    def check_model() -> None:
        """Before any worker starts: refuse, with one line, a model that is not the one dvc.lock names."""
        root = _root()
        try:
            verified_model(root, load(root / "params.yaml").paths.model)
        except (modelfile.ModelMismatch, ParamsError) as error:
            logging.getLogger("bentoml").critical("%s: refusing to serve it", error)
            raise SystemExit(2) from None

    def __init__(self) -> None:
        root = _root()
        params = load(root / "params.yaml")
        self.settings, self.threshold = params.serve, params.evaluate.threshold
        self.model, self.md5 = verified_model(root, params.paths.model)  # checked again: the file may have changed
        self.metadata = {
            "model": self.md5,
            **json.loads((root / params.paths.model_meta).read_text()),
            "promoted_with": json.loads((root / params.paths.metrics).read_text())
            if (root / params.paths.metrics).exists()
            else None,
            "threshold": self.threshold,
            # the commit is no part of the model's files: a release is told it, a checkout knows it
            "commit": os.environ.get("RETRAIN_COMMIT") or (vcs.commit(root) if (root / ".git").exists() else None),
            "features": list(DOMAIN.features),
        }
        self.shadow, self.shadow_md5 = _shadow(os.environ.get("RETRAIN_SHADOW_MODEL"))
        golden = root / params.paths.golden
        check = records_frame(files.read_json(golden), DOMAIN) if golden.exists() else None
        self.scorer = Scorer(self.model, check)
        self.shadow_scorer = Scorer(self.shadow, check) if self.shadow is not None else None
        self.metadata["compiled_trees"] = self.scorer.compiled
        promoted = self.metadata["promoted_with"] or {}
        positive = promoted.get("test_positive_share", promoted.get("test_late_share"))  # (metrics before domains)
        if positive is not None and {"precision", "recall"} <= set(promoted) and promoted["precision"] > 0:
            # predicted positive / all = (recall x positive share) / precision, on the test window it was promoted with
            share = promoted["recall"] * positive / promoted["precision"]
            PROMOTED_POSITIVE_SHARE.set(round(share, 4))
        folder = os.environ.get("RETRAIN_INFERENCE_LOG")
        settings = self.settings
        retention = Retention(settings.log_retention_days, settings.log_max_total_bytes, params.monitor.window_days)
        self.log = (
            InferenceLog(
                Path(folder),
                settings.log_max_bytes,
                settings.log_sample,
                ship_to=os.environ.get("RETRAIN_LOG_SHIP"),
                retention=retention,
                on_drop=lambda reason, lines: DROPPED.labels(reason=reason).inc(lines),
            )
            if folder
            else None
        )
        self.records = request_model(self.settings.max_records, DOMAIN)
        budget, stall = settings.latency_budget_seconds, settings.stall_seconds
        self.batcher = Batcher(self._score, settings.max_batch_rows, budget, stall)
        self.shadow_batcher = Batcher(self._score_shadow, settings.max_batch_rows, budget, stall)
        self._after_answer: set[asyncio.Task[None]] = set()  # shadow scoring and logging, referenced until done
        # What start-up loaded (the libraries, the model) is never garbage: frozen, the collector stops walking it on
        # every full collection, which under load took ~100 ms at a time (p99 at 16 clients: 168 ms -> 58 ms).
        gc.collect()
        gc.freeze()
        compiled = " (trees compiled by Treelite)" if self.scorer.compiled else ""
        log.info("serving model %s%s%s", self.md5, compiled, f" with shadow {self.shadow_md5}" if self.shadow else "")

    # the body is read raw (orjson, size limits first); its schema is documented from the contract for /docs.json
    @app.post("/predict", openapi_extra=openapi(DOMAIN))
    async def predict(self, request: Request) -> JSONResponse:
        started = time.perf_counter()
        if request.headers.get("content-type", "application/json").split(";")[0].strip() != "application/json":
            return _reject(415, "content_type", "send JSON: Content-Type: application/json")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            return _reject(413, "too_large", f"body over {self.settings.max_body_bytes} bytes")
        body = await request.body()
        if len(body) > self.settings.max_body_bytes:
            return _reject(413, "too_large", f"body over {self.settings.max_body_bytes} bytes")
        try:
            payload = orjson.loads(body)  # no recursion: nesting deeper than 1024 is a decode error, as is 1e999
        except orjson.JSONDecodeError as error:
            return _reject(400, "malformed_json", f"body is not valid JSON: {error}")
        try:
            parsed: PredictRequest = self.records.model_validate(payload)
        except ValidationError as error:
            return _reject(422, "invalid_records", "records do not match the data contract", _readable(error))
        records = parsed.records_as_dicts()
        try:
            probabilities = await self.batcher.submit(records)
        except Overloaded as overloaded:
            SHED.labels(reason="latency_budget").inc()
            message = f"overloaded: {overloaded}, over the budget of {self.settings.latency_budget_seconds} s"
            answer = JSONResponse({"error": message}, status_code=503)
            answer.headers["Retry-After"] = str(overloaded.retry_after)
            return answer
        except RecordFailed as failed:
            log.warning("rejected a record the model cannot score: %s", failed)
            return _reject(422, "unscorable_record", str(failed))
        predictions = (probabilities >= self.threshold).astype(int)
        if not request.headers.get("x-retrain-probe"):  # a smoke test or health check is not traffic to monitor
            for predicted in (0, 1):
                count = int((predictions == predicted).sum())
                if count:
                    PREDICTIONS.labels(predicted=str(predicted), model=self.md5).inc(count)
            # the front's request id (nginx's $request_id, also in its access log), else a new one: the log's key
            request_id = request.headers.get("x-request-id", "")
            self._after(request_id if REQUEST_ID.fullmatch(request_id) else str(uuid.uuid4()), records, probabilities)
        LATENCY.labels(model=self.md5).observe(time.perf_counter() - started)
        return JSONResponse(
            {"predictions": predictions.tolist(), "probabilities": probabilities.tolist(), "model": self.md5},
            headers={"X-Model": self.md5},  # for the front's access log
        )

    def _score(self, records: list[dict[str, Any]]) -> Any:
        """Champion probabilities for records from any number of requests: one Pipeline call."""
        return self.scorer(records_frame(records, DOMAIN))

    def _score_shadow(self, records: list[dict[str, Any]]) -> Any:
        assert self.shadow_scorer is not None
        return self.shadow_scorer(records_frame(records, DOMAIN))

    def _after(self, request_id: str, records: list[dict[str, Any]], probabilities: Any) -> None:
        """After the answer: the shadow's probabilities (never in the answer, never its failure), then the log."""
        if self.shadow is None:
            if self.log is not None:
                self.log.write(request_id, self.md5, records, probabilities, None)
            return
        task = asyncio.create_task(self._shadow_then_log(request_id, records, probabilities))
        self._after_answer.add(task)
        task.add_done_callback(self._after_answer.discard)

    async def _shadow_then_log(self, request_id: str, records: list[dict[str, Any]], probabilities: Any) -> None:
        shadow = None
        try:
            shadow = await self.shadow_batcher.submit(records)
            SHADOW.labels(outcome="scored").inc()
        except Overloaded:
            SHADOW.labels(outcome="shed").inc()
        except Exception as error:  # the shadow's failure is counted and logged, never the champion's answer
            SHADOW.labels(outcome="error").inc()
            log.warning("shadow model %s failed: %s: %s", self.shadow_md5, type(error).__name__, error)
        if self.log is not None:
            self.log.write(request_id, self.md5, records, probabilities, shadow)

    async def __is_ready__(self) -> bool:
        """/readyz: not ready while a scoring call has run for serve.stall_seconds (nothing is being answered)."""
        return self.batcher.healthy()

    @app.get("/", include_in_schema=False)
    def index(self) -> HTMLResponse:
        return HTMLResponse(INDEX.replace("{title}", DOMAIN.name))

    @app.get("/metadata")
    def describe(self) -> JSONResponse:
        return JSONResponse(self.metadata)

    @app.get("/metrics")
    def metrics(self) -> Response:
        """Prometheus text: every worker's counters (BentoML's workers write them to PROMETHEUS_MULTIPROC_DIR)."""
        registry = prometheus_client.REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = prometheus_client.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(prometheus_client.generate_latest(registry), media_type=prometheus_client.CONTENT_TYPE_LATEST)

    @bentoml.on_shutdown
    def close(self) -> None:
        if self.log is not None:
            self.log.close()
