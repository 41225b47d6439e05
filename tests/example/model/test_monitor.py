"""Monitoring on simulated traffic: real flights scored by a real model, written as the service's inference log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.pipeline import Pipeline

from retrain import cli
from retrain.cli.main import main
from retrain.domain import Domain
from retrain.domain.nycflights import data as nycflights
from retrain.domain.nycflights import features, schema
from retrain.monitoring import alert, monitor
from retrain.params import Params
from retrain.pipeline import featurize, train
from retrain.results import MonitorVerdict
from tests.example.support import log_lines
from tests.support import NOW, ROOT


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    return nycflights.weather()


@pytest.fixture(scope="module")
def reference(weather: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    flights = pd.concat([nycflights.flights(2013, m) for m in (3, 4, 5)], ignore_index=True)
    return featurize.label(features.join_weather(flights, weather), domain)[0]


@pytest.fixture(scope="module")
def model(reference: pd.DataFrame, params: Params, domain: Domain) -> Pipeline:
    settings = params.train.model_copy(update={"hyperparameters": {"hist_gradient_boosting": {"max_iter": 40}}})
    return train.train(reference, settings, domain)


def label_lines(flights: pd.DataFrame, flip: bool = False) -> list[str]:
    delays = -flights["arr_delay"] + 20 if flip else flights["arr_delay"]
    return [
        json.dumps(
            {**{k: row[k].item() if hasattr(row[k], "item") else row[k] for k in schema.FLIGHT_KEY}, "arr_delay": d}
        )
        for (_, row), d in zip(flights.iterrows(), delays, strict=True)
    ]


def check(
    domain: Domain, lines: list[str], labels: list[str], reference: pd.DataFrame, params: Params
) -> MonitorVerdict:
    traffic, _ = monitor.parse_log(lines, domain)
    labelled, _ = monitor.parse_labels(labels, domain)
    promoted = {"roc_auc": 0.75}
    last = pd.Timestamp("2013-06-01 03:00", tz="UTC")
    return monitor.monitor(traffic, labelled, reference, promoted, last, NOW, params.monitor, params.drift, domain)


def test_a_fresh_healthy_log_does_not_trigger(
    model: Pipeline, reference: pd.DataFrame, params: Params, domain: Domain
) -> None:
    verdict = check(domain, log_lines(model, reference), label_lines(reference.head(20_000)), reference, params)
    assert verdict.retrain is False, verdict.reasons
    performance = verdict.checks.performance
    assert performance is not None and performance.labelled >= params.monitor.min_labelled


def test_degraded_accuracy_on_labelled_traffic_triggers(
    model: Pipeline, reference: pd.DataFrame, params: Params, domain: Domain
) -> None:
    labels = label_lines(reference.head(20_000), flip=True)  # the world now does the opposite of what we learnt
    verdict = check(domain, log_lines(model, reference), labels, reference, params)
    assert verdict.retrain is True
    assert verdict.reasons[0].startswith("live ROC AUC")


def test_drifted_stale_traffic_triggers(
    model: Pipeline, reference: pd.DataFrame, weather: pd.DataFrame, params: Params, domain: Domain
) -> None:
    august = features.join_weather(nycflights.flights(2013, 8), weather)
    verdict = check(domain, log_lines(model, august), [], reference, params)
    assert verdict.retrain is True
    assert any(r.startswith("data drift in recent traffic") and "temp" in r for r in verdict.reasons)
    assert any("days older than the traffic" in r for r in verdict.reasons)
    performance = verdict.checks.performance
    assert performance is not None and performance.labelled == 0


def test_malformed_lines_are_counted_and_skipped(model: Pipeline, reference: pd.DataFrame, domain: Domain) -> None:
    good = log_lines(model, reference, rows=10)
    bad = ["not json", "{}", '{"request_id": 1}', good[0].replace('"probability": ', '"probability": "high", "x": ')]
    traffic, malformed = monitor.parse_log([*good, *bad, ""], domain)
    assert (len(traffic), malformed) == (10, 4)


def test_a_quiet_window_is_not_judged(model: Pipeline, reference: pd.DataFrame, params: Params, domain: Domain) -> None:
    verdict = check(domain, log_lines(model, reference, rows=50), [], reference, params)
    assert verdict.checks.drift is None and "fewer than" in str(verdict.checks.volume.note)


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


@pytest.fixture
def workspace(tmp_path: Path, model: Pipeline, weather: pd.DataFrame, reference: pd.DataFrame) -> Path:
    """params.yaml with every path under tmp_path, the reference and metrics monitoring needs, and a log folder
    `log` of August traffic scored in the day before NOW (plus one garbage line)."""
    settings = yaml.safe_load((ROOT / "params.yaml").read_text())
    settings["paths"] = {key: str(tmp_path / value) for key, value in settings["paths"].items()}
    settings["monitor"] |= {"log_dir": str(tmp_path / "logs/inference"), "labels_dir": str(tmp_path / "logs/labels")}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(settings))
    (tmp_path / "data/features").mkdir(parents=True)
    reference.to_parquet(tmp_path / "data/features/train.parquet")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/metrics.json").write_text(json.dumps({"roc_auc": 0.75}))
    (tmp_path / "models").mkdir()
    (tmp_path / "models/model.json").write_text(json.dumps({"training_window": {"last": "2013-06-01 03:00:00+00:00"}}))
    (tmp_path / "log").mkdir()
    august = features.join_weather(nycflights.flights(2013, 8), weather)
    (tmp_path / "log/predictions-2026-11-27.jsonl").write_text("\n".join([*log_lines(model, august), "garbage"]))
    return tmp_path


def test_monitor_and_alert_commands_write_outputs_and_post_the_webhook(
    workspace: Path, receiver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path = workspace
    monkeypatch.setenv("RETRAIN_INFERENCE_LOG", str(tmp_path / "log"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "outputs"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/retrain")
    monkeypatch.setenv("GITHUB_RUN_ID", "7")
    params = str(tmp_path / "params.yaml")

    assert main(["--params", params, "monitor", "--now", NOW.isoformat()]) == 0
    verdict = MonitorVerdict.read(tmp_path / "reports/monitor.json")
    assert verdict.retrain is True and verdict.malformed_lines == 1
    outputs = (tmp_path / "outputs").read_text().splitlines()
    assert outputs[0] == "retrain=true" and outputs[1].startswith("reason=data drift in recent traffic")
    assert (tmp_path / "summary.md").read_text().startswith("## Retraining triggered")

    assert main(["--params", params, "alert", "--webhook", receiver]) == 0
    (posted,) = _Receiver.received
    assert posted["retrain"] is True and posted["label"] == alert.LABEL
    assert "https://github.com/acme/retrain/actions/runs/7" in posted["text"]
    assert (tmp_path / "reports/alert.md").read_text() == posted["text"]
    assert main(["--params", params, "alert", "--webhook", "http://127.0.0.1:9/hook"]) == cli.EXIT_BAD_INPUT


def test_probabilities_in_the_log_are_the_models(model: Pipeline, reference: pd.DataFrame, domain: Domain) -> None:
    traffic, _ = monitor.parse_log(log_lines(model, reference, rows=20), domain)
    again = model.predict_proba(traffic[list(schema.FEATURES)])[:, 1]
    np.testing.assert_allclose(traffic["probability"], again, rtol=1e-12)


def test_a_shadow_model_in_the_log_gives_the_disagreement_rate(
    model: Pipeline, reference: pd.DataFrame, domain: Domain
) -> None:
    lines = [json.loads(line) for line in log_lines(model, reference, rows=200)]
    for index, line in enumerate(lines):
        line["shadow_probability"] = 0.9 if index < 50 else line["probability"]
    traffic, _ = monitor.parse_log((json.dumps(line) for line in lines), domain)
    agreement = monitor.shadow_agreement(traffic, threshold=0.3)
    below = sum(line["probability"] < 0.3 for line in lines[:50])
    assert agreement.model_dump() == {
        "predictions": 200,
        "disagreement_rate": below / 200,
        "mean_absolute_difference": pytest.approx(sum(0.9 - line["probability"] for line in lines[:50]) / 200),
    }


def test_a_configured_log_location_that_is_missing_or_silent_means_monitoring_is_blind(
    workspace: Path, model: Pipeline, weather: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hosted runner that cannot see the serving machine's log reads nothing: that is a failed check with its own
    alert, never "not enough volume, no retrain". A URL is read through fsspec."""
    params = str(workspace / "params.yaml")
    monkeypatch.setenv("GITHUB_OUTPUT", str(workspace / "outputs"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(workspace / "summary.md"))
    assert main(["--params", params, "monitor", "--now", NOW.isoformat()]) == 0  # not configured: the local default

    old = workspace / "old"
    old.mkdir()
    july = features.join_weather(nycflights.flights(2013, 7), weather)
    (old / "predictions-2026-10-01.jsonl").write_text(
        "\n".join(log_lines(model, july, 600, when=NOW - pd.Timedelta(days=30)))
    )
    for location, why in (
        (workspace / "missing", "no such folder"),
        (old, "no prediction in the last 7 days (600 older)"),
    ):
        monkeypatch.setenv("RETRAIN_INFERENCE_LOG", str(location))
        (workspace / "summary.md").unlink(missing_ok=True)
        assert main(["--params", params, "monitor", "--now", NOW.isoformat()]) == cli.EXIT_ERROR
        verdict = MonitorVerdict.read(workspace / "reports/monitor.json")
        assert verdict.blind and not verdict.retrain and why in verdict.reasons[0], verdict.reasons
        assert (workspace / "outputs").read_text().splitlines()[-1] == "blind=true"
        assert (workspace / "summary.md").read_text().startswith(f"## Monitoring is blind: {location}")
        assert main(["--params", params, "alert"]) == 0
        assert (workspace / "reports/alert.md").read_text().startswith("## Monitoring is blind")

    monkeypatch.setenv("RETRAIN_INFERENCE_LOG", (workspace / "log").as_uri())  # file:///...: any fsspec URL
    assert main(["--params", params, "monitor", "--now", NOW.isoformat()]) == 0
    assert MonitorVerdict.read(workspace / "reports/monitor.json").retrain is True
