"""`retrain smoke`: is the service at URL serving exactly the model that dvc.lock names?

Ready, `/metadata` names the md5 from dvc.lock, and the probabilities for the committed golden records equal those
of the verified model file scored in process. Any difference is a failed deployment.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from retrain.domain import Domain, load_domain
from retrain.io import files, http, modelfile
from retrain.params import Params
from retrain.serving.request import records_frame

log = logging.getLogger(__name__)
PROBE = "X-Retrain-Probe"


def smoke(
    url: str,
    expected_md5: str,
    model: Any,
    golden: list[dict[str, Any]],
    domain: Domain,
    wait: float = 60,
    timeout: float = 30,
) -> list[str]:
    """The failed checks (empty when the deployment is good): ready within `wait` seconds, each request answered
    within `timeout` (at most 5 s for the two GETs)."""
    deadline, short = time.monotonic() + wait, min(timeout, 5)
    while http.request(f"{url}/readyz", timeout=short)[0] != 200:
        if time.monotonic() > deadline:
            return [f"{url}/readyz did not answer 200 within {wait:g} s"]
        time.sleep(0.5)
    failures = []
    status, body = http.request(f"{url}/metadata", timeout=short)
    served = json.loads(body).get("model") if status == 200 else None
    if served != expected_md5:
        failures.append(f"{url}/metadata names model {served}, dvc.lock names {expected_md5}")
    # a probe: the service answers it like any request, but keeps it out of the inference log and the metrics of
    # predictions (the health check sends one every deploy.health.seconds)
    status, body = http.request(f"{url}/predict", {"records": golden}, timeout=timeout, headers={PROBE: "smoke"})
    if status != 200:
        return [*failures, f"{url}/predict answered {status or 'nothing'} on the golden records: {body[:200]!r}"]
    answer = json.loads(body)
    expected = model.predict_proba(records_frame(golden, domain))[:, 1]  # the frame the service builds from them
    if not np.allclose(answer.get("probabilities", []), expected, rtol=1e-9, atol=1e-12):
        failures.append(f"{url}/predict answers differ from the model file on the {len(golden)} golden records")
    return failures


def run(params: Params, root: Path, url: str) -> list[str]:
    """`retrain smoke`: the failed checks of the service at `url` against the model dvc.lock names (none: good)."""
    expected = modelfile.locked(root, params.paths.model)
    golden = files.read_json(params.paths.golden)
    domain = load_domain(params)
    failures = smoke(url.rstrip("/"), expected, modelfile.load(params.paths.model), golden, domain)
    for failure in failures:
        log.error("smoke: %s", failure)
    if not failures:
        log.info("smoke: %s serves model %s, golden predictions equal", url, expected)
    return failures
