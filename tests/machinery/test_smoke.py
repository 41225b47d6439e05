"""`retrain smoke` against a service that serves the synthetic model as the real one does (request model, scoring
frame, Pipeline): the golden records, JSON with a time among them, must be scored alike on both sides."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sklearn.pipeline import Pipeline

from retrain.domain import Domain
from retrain.pipeline.featurize import Split
from retrain.release import smoke
from retrain.serving.request import records_frame, request_model
from tests.synthetic import data

MD5 = "c" * 32


@pytest.fixture
def service(model: Pipeline, synthetic: Domain) -> Iterator[str]:
    """/readyz, /metadata and /predict as the service answers them, on loopback."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer({"model": MD5})

        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            records = request_model(100, synthetic).model_validate(payload).records_as_dicts()
            probabilities = model.predict_proba(records_frame(records, synthetic))[:, 1]
            self._answer({"probabilities": probabilities.tolist(), "model": MD5})

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_smoke_passes_on_golden_records_with_a_time(
    service: str, model: Pipeline, split: Split, synthetic: Domain
) -> None:
    golden = data.records(split.test.head(5), [*synthetic.features, "ticket"])
    assert smoke.smoke(service, MD5, model, golden, synthetic, wait=5, timeout=10) == []
