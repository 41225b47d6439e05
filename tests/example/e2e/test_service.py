"""The BentoML service for real: `bentoml serve` on a free port, answering real HTTP."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import itertools
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from retrain.domain import Domain
from retrain.domain.nycflights import data as nycflights
from retrain.domain.nycflights import features, schema
from retrain.io import files, modelfile
from retrain.io.http import request
from retrain.params import Params
from retrain.pipeline import featurize, train
from tests.support import BIN, ROOT, free_port, post

pytestmark = pytest.mark.slow


@dataclass
class Server:
    url: str
    root: Path
    log_dir: Path
    output: Path
    model: Pipeline
    shadow: Pipeline
    process: subprocess.Popen[bytes]


def _env(home: Path, root: Path, **extra: str) -> dict[str, str]:
    return dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        BENTOML_HOME=str(home),
        BENTOML_DO_NOT_TRACK="true",
        OMP_NUM_THREADS="1",
        RETRAIN_ROOT=str(root),
        **extra,
    )


@pytest.fixture(scope="module")
def flights(domain: Domain) -> pd.DataFrame:
    weather = nycflights.weather()
    return featurize.label(features.join_weather(nycflights.flights(2013, 2), weather), domain)[0]


def _fit(frame: pd.DataFrame, params: Params, iterations: int, domain: Domain) -> Pipeline:
    settings = params.train.model_copy(update={"hyperparameters": {"hist_gradient_boosting": {"max_iter": iterations}}})
    return train.train(frame, settings, domain)


def deploy_root(root: Path, model: Pipeline) -> None:
    """What the service needs from a repository: params, dvc.lock naming the model, the model and its metadata, and
    the golden records (its compiled trees are checked against them)."""
    (root / "models").mkdir(parents=True)
    (root / "deploy").mkdir()
    shutil.copy(ROOT / "params.yaml", root / "params.yaml")
    shutil.copy(ROOT / "deploy/golden.json", root / "deploy/golden.json")
    modelfile.save(model, root / "models/model.skops")
    lock = {
        "schema": "2.0",
        "stages": {"train": {"outs": [{"path": "models/model.skops", "md5": files.md5(root / "models/model.skops")}]}},
    }
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))
    (root / "models/model.json").write_text(
        json.dumps({"training_window": {"first": "2013-02-01", "last": "2013-03-01"}})
    )


@contextlib.contextmanager
def _serving(base: Path, model: Pipeline, shadow: Pipeline, **serve: float) -> Iterator[Server]:
    """`bentoml serve` of the service for a repository under `base` holding `model`, with `shadow` as the shadow
    model and an inference log (and `serve` settings changed in its params.yaml), once it is ready."""
    deploy_root(base / "repo", model)
    settings = yaml.safe_load((base / "repo/params.yaml").read_text())
    settings["serve"] |= serve
    (base / "repo/params.yaml").write_text(yaml.safe_dump(settings))
    modelfile.save(shadow, base / "shadow.skops")
    env = _env(
        base / "bentoml",
        base / "repo",
        RETRAIN_INFERENCE_LOG=str(base / "log"),
        RETRAIN_SHADOW_MODEL=str(base / "shadow.skops"),
    )
    port, output = free_port(), base / "server.log"
    command = ["bentoml", "serve", "retrain.serving.service:Service", "--host", "127.0.0.1"]
    with output.open("w") as sink:
        process = subprocess.Popen(
            [*command, "--port", str(port)], cwd=ROOT / "src", env=env, stdout=sink, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while request(f"{url}/readyz")[0] != 200:
            assert process.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.3)
        try:
            yield Server(url, base / "repo", base / "log", output, model, shadow, process)
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, flights: pd.DataFrame, params: Params, domain: Domain
) -> Iterator[Server]:
    model, shadow = _fit(flights, params, 30, domain), _fit(flights, params, 5, domain)
    with _serving(tmp_path_factory.mktemp("service"), model, shadow) as server:
        yield server


def _records(frame: pd.DataFrame, rows: int) -> list[dict[str, Any]]:
    sample = frame.head(rows)[[*schema.FEATURES, "flight"]]
    return [{str(k): (None if pd.isna(v) else v) for k, v in row.items()} for row in sample.to_dict("records")]


def test_answers_equal_the_in_process_pipeline(server: Server, flights: pd.DataFrame) -> None:
    records = _records(flights, 100)
    status, answer = post(f"{server.url}/predict", json.dumps({"records": records}).encode())
    assert status == 200
    expected = server.model.predict_proba(flights.head(100)[list(schema.FEATURES)])[:, 1]
    np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-9)
    assert answer["predictions"] == [int(p >= 0.3) for p in expected]
    assert answer["model"] == files.md5(server.root / "models/model.skops")


def test_one_record_and_a_thousand_records(server: Server, flights: pd.DataFrame) -> None:
    for rows in (1, 1000):
        status, answer = post(f"{server.url}/predict", json.dumps({"records": _records(flights, rows)}).encode())
        assert status == 200 and len(answer["probabilities"]) == rows


def _bad_inputs(good: dict[str, Any]) -> dict[str, tuple[bytes, str, int, str]]:
    def body(**changes: Any) -> bytes:
        return json.dumps({"records": [good | changes]}).encode()

    without_dest = {k: v for k, v in good.items() if k != "dest"}
    return {
        "malformed JSON": (b'{"records": [', "application/json", 400, "not valid JSON"),
        "not JSON at all": (b"year=2013", "application/x-www-form-urlencoded", 415, "Content-Type"),
        "body over the limit": (b'{"records": "' + b"x" * 2_100_000 + b'"}', "application/json", 413, "body over"),
        "empty list": (b'{"records": []}', "application/json", 422, "at least 1 item"),
        "too many records": (json.dumps({"records": [good] * 2001}).encode(), "application/json", 422, "at most 2000"),
        "records is not a list": (b'{"records": {"year": 2013}}', "application/json", 422, "records"),
        "no records key": (b'{"rows": []}', "application/json", 422, "records: Field required"),
        "missing field": (
            json.dumps({"records": [without_dest]}).encode(),
            "application/json",
            422,
            "dest: Field required",
        ),
        "unknown field": (body(gate="A1"), "application/json", 422, "gate: Extra inputs are not permitted"),
        "string in a number": (body(distance="far"), "application/json", 422, "distance"),
        "out of range": (body(month=13), "application/json", 422, "month: Input should be less than or equal to 12"),
        "not a time": (body(sched_dep_time=1275), "application/json", 422, "sched_dep_time"),
        "unknown origin": (body(origin="BOS"), "application/json", 422, "origin"),
        "not a date": (body(month=2, day=30), "application/json", 422, "not a date"),
        "null where required": (body(carrier=None), "application/json", 422, "carrier"),
        "nested brackets (a parser's recursion)": (b'{"records":' + b"[" * 5000, "application/json", 400, "depth"),
        "an infinite number": (body(wind_speed=12.125).replace(b"12.125", b"1e9999"), "application/json", 400, "inf"),
        "a boolean for a number": (body(month=True), "application/json", 422, "month: Input should be a valid integer"),
        "a wind no sensor reports": (body(wind_speed=1e300), "application/json", 422, "wind_speed"),
    }


def test_each_kind_of_bad_input_gets_its_4xx_and_the_service_keeps_serving(
    server: Server, flights: pd.DataFrame
) -> None:
    good = _records(flights, 1)[0]
    cases = _bad_inputs(good)
    assert len(cases) >= 12
    for kind, (payload, content_type, expected, words) in cases.items():
        status, answer = post(f"{server.url}/predict", payload, content_type)
        assert status == expected, (kind, status, answer)
        assert words in json.dumps(answer), (kind, answer)
    assert post(f"{server.url}/predict", json.dumps({"records": [good]}).encode())[0] == 200
    log = server.output.read_text()
    assert "RecursionError" not in log
    assert "Traceback" not in log and "[ERROR]" not in log
    metrics = request(f"{server.url}/metrics")[1].decode()
    assert 'retrain_rejected_requests_total{reason="invalid_records"}' in metrics
    assert 'retrain_rejected_requests_total{reason="malformed_json"} 3.0' in metrics


def test_a_row_of_the_raw_flights_table_is_scored_as_its_model_columns(
    server: Server, flights: pd.DataFrame, domain: Domain
) -> None:
    """A client may send rows as the flights table has them: the columns the model does not read are ignored."""
    raw = flights.head(5)[[*domain.batch.names, *schema.WEATHER_FEATURES]]
    rows = [
        {str(k): (None if pd.isna(v) else v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
        for row in raw.to_dict("records")
    ]
    status, answer = post(f"{server.url}/predict", json.dumps({"records": rows}, default=str).encode())
    assert status == 200, answer
    expected = server.model.predict_proba(flights.head(5)[list(schema.FEATURES)])[:, 1]
    np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-9)


def test_metadata_names_the_model_and_its_training(server: Server) -> None:
    status, body = request(f"{server.url}/metadata")
    meta = json.loads(body)
    assert status == 200 and meta["model"] == files.md5(server.root / "models/model.skops")
    assert meta["training_window"]["first"] == "2013-02-01" and meta["features"] == list(schema.FEATURES)
    assert meta["compiled_trees"] is True  # the answers above came from Treelite's trees


def test_32_concurrent_clients_get_no_errors(server: Server, flights: pd.DataFrame) -> None:
    body = json.dumps({"records": _records(flights, 1)}).encode()
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda _: post(f"{server.url}/predict", body)[0], range(128)))
    assert statuses == [200] * 128


def test_the_inference_log_holds_every_prediction_with_the_shadow_answer(server: Server, flights: pd.DataFrame) -> None:
    records = _records(flights.iloc[2000:], 7)
    status, answer = post(f"{server.url}/predict", json.dumps({"records": records}).encode())
    assert status == 200
    deadline, lines = time.monotonic() + 10, []
    while time.monotonic() < deadline:
        lines = [
            json.loads(line)
            for path in sorted(server.log_dir.glob("*.jsonl"))
            for line in path.read_text().splitlines()
        ]
        if any(line["features"] == records[-1] for line in lines):
            break
        time.sleep(0.2)
    mine = [line for line in lines if line["features"] in records]
    assert len(mine) == 7
    shadow = server.shadow.predict_proba(flights.iloc[2000:2007][list(schema.FEATURES)])[:, 1]
    np.testing.assert_allclose([line["shadow_probability"] for line in mine], shadow, rtol=1e-9)
    np.testing.assert_allclose([line["probability"] for line in mine], answer["probabilities"], rtol=1e-12)
    assert {line["model"] for line in mine} == {answer["model"]}
    assert len({line["request_id"] for line in mine}) == 7


def test_a_tampered_model_is_refused_before_any_worker_starts(
    tmp_path: Path, flights: pd.DataFrame, params: Params, domain: Domain
) -> None:
    deploy_root(tmp_path / "repo", _fit(flights, params, 3, domain))
    with (tmp_path / "repo/models/model.skops").open("ab") as model:
        model.write(b"tampered")
    result = subprocess.run(
        ["bentoml", "serve", "retrain.serving.service:Service", "--port", str(free_port())],
        cwd=ROOT / "src",
        env=_env(tmp_path / "bentoml", tmp_path / "repo"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "refusing to serve it" in line]
    assert len(lines) == 1 and "but dvc.lock names" in lines[0]
    assert "Traceback" not in result.stderr


def test_smoke_passes_on_the_served_model_and_fails_when_dvc_lock_names_another(
    server: Server,
    tmp_path: Path,
    flights: pd.DataFrame,
    params: Params,
    monkeypatch: pytest.MonkeyPatch,
    domain: Domain,
) -> None:
    from retrain import cli
    from retrain.cli.main import main

    for root in (server.root, tmp_path / "other"):
        if root != server.root:
            deploy_root(root, _fit(flights, params, 3, domain))
        (root / "deploy").mkdir(exist_ok=True)
        shutil.copy(ROOT / "deploy/golden.json", root / "deploy/golden.json")
    monkeypatch.chdir(server.root)
    assert main(["smoke", "--url", server.url]) == cli.EXIT_OK
    monkeypatch.chdir(tmp_path / "other")
    assert main(["smoke", "--url", server.url]) == cli.EXIT_BLOCKED

    # the smoke test's golden records were probes (X-Retrain-Probe): answered, never in the inference log; the same
    # records sent as traffic are
    golden = files.read_json(ROOT / "deploy/golden.json")
    assert post(f"{server.url}/predict", json.dumps({"records": golden[:1]}).encode())[0] == 200
    logged: list[Any] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not logged:
        lines = [json.loads(line) for path in server.log_dir.glob("*.jsonl") for line in path.read_text().splitlines()]
        logged = [line for line in lines if line["features"] in golden]
        time.sleep(0.2)
    assert [line["features"] for line in logged] == golden[:1]


def test_an_impossible_reading_scores_as_training_treated_it(server: Server, flights: pd.DataFrame) -> None:
    """Train/serve skew: raw rows carrying the bundled weather's impossible reading (1,048 mph at EWR); featurize
    keeps raw readings and the Pipeline's first step makes it missing, so the service scores them as training did."""
    weather = nycflights.weather()
    reading = float(weather["wind_speed"].max())
    assert reading > 1000
    rows = flights.head(20).assign(wind_speed=reading)
    status, answer = post(f"{server.url}/predict", json.dumps({"records": _records(rows, 20)}).encode())
    assert status == 200, answer
    as_missing = rows[list(schema.FEATURES)].assign(wind_speed=np.nan)
    np.testing.assert_allclose(answer["probabilities"], server.model.predict_proba(as_missing)[:, 1], rtol=1e-9)


def _post_with_headers(url: str, body: bytes) -> tuple[int, dict[str, str]]:
    parts = url.removeprefix("http://").split("/", 1)
    host, port = parts[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("POST", "/" + parts[1], body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status, {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()


@pytest.fixture(scope="module")
def tight(
    tmp_path_factory: pytest.TempPathFactory, flights: pd.DataFrame, params: Params, domain: Domain
) -> Iterator[Server]:
    """A service whose latency budget (1 ms) is shorter than any scoring call: whoever waits behind one is shed."""
    model = _fit(flights, params, 30, domain)
    with _serving(tmp_path_factory.mktemp("tight"), model, model, latency_budget_seconds=0.001) as server:
        yield server


def test_a_burst_past_the_latency_budget_is_shed_with_503_and_then_served(tight: Server, flights: pd.DataFrame) -> None:
    """48 clients at once: the requests that would wait behind a scoring call for longer than the budget are
    answered 503 with Retry-After at once (counted), the others 200; then the service serves as before. (On the
    default budget of 0.5 s this machine never sheds: reading and validating 2,000-record bodies on the event loop
    is slower than scoring them.)"""
    body = json.dumps({"records": _records(flights, 500)}).encode()
    assert post(f"{tight.url}/predict", body)[0] == 200  # the batcher has seen what a call costs
    with ThreadPoolExecutor(48) as pool:
        answers = list(pool.map(lambda _: _post_with_headers(f"{tight.url}/predict", body), range(48)))
    statuses = [status for status, _ in answers]
    assert set(statuses) == {200, 503}, statuses
    assert all(int(headers["retry-after"]) >= 1 for status, headers in answers if status == 503)
    metrics = request(f"{tight.url}/metrics")[1].decode()
    assert f'retrain_shed_requests_total{{reason="latency_budget"}} {float(statuses.count(503))}' in metrics
    time.sleep(1)  # what was accepted is scored
    assert post(f"{tight.url}/predict", json.dumps({"records": _records(flights, 1)}).encode())[0] == 200
    assert "[ERROR]" not in tight.output.read_text()


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory, flights: pd.DataFrame) -> Iterator[Server]:
    """A service whose champion raises on a record without `wind_gust` (a nullable column: the record is valid, but
    this LogisticRegression refuses NaN), and whose shadow loads but raises on every call (fitted on a column that
    requests do not have)."""
    gusty = flights.dropna(subset=["wind_gust"])
    keep = ColumnTransformer([("keep", "passthrough", ["distance", "wind_gust"])])
    champion = Pipeline([("select", keep), ("model", LogisticRegression())]).fit(gusty, gusty[schema.TARGET])
    odd = flights.assign(runway_length=1.0)[["distance", "runway_length"]]
    shadow = Pipeline([("model", LogisticRegression())]).fit(odd, flights[schema.TARGET])
    with _serving(tmp_path_factory.mktemp("fragile"), champion, shadow) as server:
        yield server


def _gusty(flights: pd.DataFrame, rows: int) -> list[dict[str, Any]]:
    return _records(flights.dropna(subset=["wind_gust"]), rows)


def test_a_shadow_that_raises_never_fails_the_answer(fragile: Server, flights: pd.DataFrame) -> None:
    records = _gusty(flights, 3)
    for _ in range(3):
        status, answer = post(f"{fragile.url}/predict", json.dumps({"records": records}).encode())
        assert status == 200, answer
    rows = pd.DataFrame(records).astype({"wind_gust": "float64"})
    np.testing.assert_allclose(answer["probabilities"], fragile.model.predict_proba(rows)[:, 1], rtol=1e-9)
    deadline, lines = time.monotonic() + 10, list[str]()
    while time.monotonic() < deadline and len(lines) < 9:
        lines = [line for path in fragile.log_dir.glob("*.jsonl") for line in path.read_text().splitlines()]
        time.sleep(0.2)
    assert len(lines) == 9 and all("shadow_probability" not in json.loads(line) for line in lines)
    metrics = request(f"{fragile.url}/metrics")[1].decode()
    assert 'retrain_shadow_requests_total{outcome="error"} 3.0' in metrics
    assert "shadow model" in fragile.output.read_text()


def test_a_record_the_model_cannot_score_fails_only_its_own_request(fragile: Server, flights: pd.DataFrame) -> None:
    """24 clients at once, one of them sending a poisoned record among good ones: the batch they share fails, is
    scored again request by request, and only the poisoned request is a 422 that names its record."""
    good = _gusty(flights, 120)
    poisoned = [*good[:2], good[2] | {"wind_gust": None}, *good[3:5]]
    bodies = [json.dumps({"records": good[i * 5 : i * 5 + 5]}).encode() for i in range(24)]
    bodies[11] = json.dumps({"records": poisoned}).encode()
    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(lambda body: post(f"{fragile.url}/predict", body), bodies))
    assert [status for status, _ in answers] == [200] * 11 + [422] + [200] * 12, answers
    assert "records.2: the model cannot score this record" in answers[11][1]["error"]
    assert all(len(answer["probabilities"]) == 5 for status, answer in answers if status == 200)
    assert post(f"{fragile.url}/predict", bodies[0])[0] == 200
    metrics = request(f"{fragile.url}/metrics")[1].decode()
    assert 'retrain_rejected_requests_total{reason="unscorable_record"} 1.0' in metrics
    assert "[ERROR]" not in fragile.output.read_text()


def test_a_shadow_that_cannot_be_loaded_is_a_warning_and_the_champion_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from retrain.serving import service

    with caplog.at_level(logging.WARNING):
        assert service._shadow(str(tmp_path / "no-such-model.skops")) == (None, None)
    assert "cannot be used" in caplog.text and "serving without it" in caplog.text


def test_random_paths_do_not_grow_the_metrics(server: Server) -> None:
    """Labels are route templates and status codes: /metrics has as many lines after 500 random paths as after one
    (BentoML's own HTTP metrics, which labelled each raw path, are off)."""
    request(f"{server.url}/no-such-path")
    before = request(f"{server.url}/metrics")[1].decode().splitlines()
    for number in range(500):
        assert request(f"{server.url}/probe-{number}-{os.urandom(4).hex()}")[0] == 404
    after = request(f"{server.url}/metrics")[1].decode()
    assert len(after.splitlines()) == len(before)
    assert 'retrain_http_requests_total{code="200",route="/metrics"}' in after
    assert 'retrain_http_requests_total{code="200",route="/predict"}' in after and "probe-" not in after


def test_the_openapi_document_describes_predict_from_the_contract_and_the_ui_is_local(server: Server) -> None:
    """A client can be generated from /docs.json: /predict's body and answers have schemas (from schema.py)."""
    status, body = request(f"{server.url}/docs.json")
    assert status == 200
    operation = json.loads(body)["paths"]["/predict"]["post"]
    records = operation["requestBody"]["content"]["application/json"]["schema"]["properties"]["records"]
    fields = records["items"]["properties"]
    assert list(fields) == [*schema.FEATURES, "flight"]
    assert fields["month"]["type"] == "integer" and (fields["month"]["minimum"], fields["month"]["maximum"]) == (1, 12)
    assert fields["origin"]["enum"] == list(schema.ORIGINS) and "origin" in records["items"]["required"]
    assert fields["wind_speed"]["anyOf"][0]["maximum"] == 1500  # nullable: a number in range, or null
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(answer["properties"]) == {"predictions", "probabilities", "model"}
    assert {"400", "413", "415", "422", "503"} <= set(operation["responses"])
    status, page = request(f"{server.url}/")  # the API's page: Swagger UI from local assets, no tag manager
    assert status == 200 and b"./static_content/swagger-ui-bundle.js" in page and b"./docs.json" in page
    assert b"http" not in page and b"googletagmanager" not in page
    assert request(f"{server.url}/static_content/swagger-ui-bundle.js")[0] == 200


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


@dataclass
class Load:
    """Clients posting single records without pause, each record with its own flight number, until stopped."""

    url: str
    template: dict[str, Any]
    answered: dict[int, float] = dataclasses.field(default_factory=dict)  # flight -> probability (200s only)
    failures: list[float] = dataclasses.field(default_factory=list)  # when a request got no 200
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.numbers = itertools.count(1)
        self.pool = ThreadPoolExecutor(8)
        self.running = [self.pool.submit(self._client) for _ in range(8)]

    def _client(self) -> None:
        while not self.stop.is_set():
            flight = next(self.numbers)
            try:
                status, answer = post(self.url, json.dumps({"records": [self.template | {"flight": flight}]}).encode())
            except (OSError, http.client.HTTPException):  # refused, reset, or cut off mid-answer by the kill
                status, answer = 0, None
            if status == 200:
                self.answered[flight] = answer["probabilities"][0]
            else:
                self.failures.append(time.monotonic())
                time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        for client in self.running:
            client.result(timeout=60)
        self.pool.shutdown()


@pytest.fixture(scope="module")
def disposable(
    tmp_path_factory: pytest.TempPathFactory, flights: pd.DataFrame, params: Params, domain: Domain
) -> Iterator[Server]:
    """A service of its own, to kill: the worker test leaves it serving, the SIGTERM test ends it."""
    model = _fit(flights, params, 10, domain)
    with _serving(tmp_path_factory.mktemp("disposable"), model, model) as server:
        yield server


def test_a_worker_killed_under_load_is_replaced_and_the_service_serves_again(
    disposable: Server, flights: pd.DataFrame
) -> None:
    server, process = disposable, disposable.process
    (worker,) = _children(process.pid)
    load = Load(f"{server.url}/predict", _records(flights, 1)[0])
    try:
        time.sleep(2)
        os.kill(worker, signal.SIGKILL)
        killed = time.monotonic()
        deadline, before = killed + 60, len(load.answered)
        while len(load.answered) < before + 50:  # answers again: a new worker, started by BentoML's supervisor
            assert time.monotonic() < deadline and process.poll() is None, server.output.read_text()[-3000:]
            time.sleep(0.1)
        recovered = time.monotonic() - killed
    finally:
        load.close()
    (replacement,) = _children(process.pid)
    assert replacement != worker
    print(f"a killed worker: serving again after {recovered:.1f} s, {len(load.failures)} requests failed")
    assert request(f"{server.url}/readyz")[0] == 200


def test_sigterm_under_load_exits_within_seconds_with_every_answered_prediction_logged(
    disposable: Server, flights: pd.DataFrame
) -> None:
    server, process = disposable, disposable.process
    load = Load(f"{server.url}/predict", _records(flights, 1)[0])
    try:
        time.sleep(3)
        process.terminate()
        stopped = time.monotonic()
        process.wait(timeout=30)
        took = time.monotonic() - stopped
    finally:
        load.close()
    print(f"SIGTERM under load: exited in {took:.1f} s, {len(load.answered)} answered")
    assert process.returncode == 0 and took < 10, server.output.read_text()[-3000:]
    lines = [json.loads(line) for path in server.log_dir.glob("*.jsonl") for line in path.read_text().splitlines()]
    logged = {line["features"]["flight"]: line["probability"] for line in lines}
    assert len(load.answered) > 100
    assert {flight: logged.get(flight) for flight in load.answered} == load.answered


@pytest.fixture
def front(server: Server, tmp_path: Path, params: Params) -> Iterator[tuple[str, Path]]:
    """nginx as the local deploy target renders it, in front of the module's service, with 2 s client timeouts."""
    from retrain.release import front as nginx

    folder, port = tmp_path / "front", free_port()
    settings = params.deploy.front.model_copy(update={"header_timeout": 2, "body_timeout": 2})
    nginx.render(folder, "127.0.0.1", port, params.serve.max_body_bytes, settings, "test-token")
    nginx.point(folder, int(server.url.rsplit(":", 1)[1]))
    process = subprocess.Popen(nginx.command(folder), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while request(f"{url}{nginx.IDENTITY}")[0] != 200:
        assert process.poll() is None and time.monotonic() < deadline, (folder / "error.log").read_text()
        time.sleep(0.1)
    try:
        yield url, folder
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def _rss(pid: int) -> int:
    """Resident bytes of a process group's members (nginx's master and worker)."""
    total = 0
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if entry.name.isdigit() and int(fields[2]) == pid:
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return total


def test_the_front_refuses_a_1_gb_body_and_outlasts_500_slow_clients_while_it_serves_others(
    front: tuple[str, Path], server: Server, flights: pd.DataFrame
) -> None:
    url, folder = front
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    body = json.dumps({"records": _records(flights, 1)}).encode()
    master = int((folder / "nginx.pid").read_text())
    before = _rss(master)
    with contextlib.closing(socket.create_connection((host, port))) as huge:  # 1 GB declared, then sent
        huge.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        huge.sendall(b"Content-Length: 1000000000\r\n\r\n" + b"[" * 65536)
        answer = huge.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413") and b"body over 2000000 bytes" in answer
    slow = [socket.create_connection((host, port)) for _ in range(500)]
    try:
        for connection in slow:  # headers begun, never finished
            connection.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        status, answer = post(f"{url}/predict", body)
        assert status == 200 and time.monotonic() - started < 5, answer
        grown = _rss(master) - before
        time.sleep(3)  # past the 2 s header timeout: nginx closes them
        closed = 0
        for connection in slow:  # a 408, an orderly close, or a reset (reset_timedout_connection): not held
            connection.settimeout(5)
            try:
                reply = connection.recv(100)
            except ConnectionResetError:
                reply = b""
            closed += reply == b"" or reply.startswith(b"HTTP/1.1 408")
    finally:
        for connection in slow:
            connection.close()
    print(f"500 slow clients: nginx grew by {grown / 2**20:.1f} MiB, all closed after the 2 s header timeout")
    assert closed == 500
    assert grown < 64 * 2**20, f"nginx grew by {grown / 2**20:.0f} MiB for 500 slow clients"
    assert post(f"{url}/predict", body)[0] == 200
    # one request id joins the front's access log and the inference log
    status, answer = post(f"{url}/predict", json.dumps({"records": _records(flights.iloc[3000:], 1)}).encode())
    assert status == 200
    access = [json.loads(line) for line in (folder / "access.log").read_text().splitlines()]
    last = access[-1]
    assert last["status"] == 200 and last["model"] == answer["model"] and len(last["request_id"]) == 32
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ids = {  # the log's request_id is the request's id / the record's index
            json.loads(line)["request_id"].split("/")[0]
            for path in server.log_dir.glob("*.jsonl")
            for line in path.read_text().splitlines()
        }
        if last["request_id"] in ids:
            break
        time.sleep(0.2)
    assert last["request_id"] in ids
