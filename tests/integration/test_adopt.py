"""`retrain adopt` on a copy of this repository whose domain is the synthetic one (tests/synthetic): a fork's first
model, from the example's state to a first model that `compare` promotes by the fork's own floors."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrain.io import files, http, modelfile
from retrain.serving.request import request_model
from tests.machinery.conftest import activated
from tests.support import ROOT, Run, environment, free_port, post, stages_run
from tests.synthetic import data
from tests.synthetic.domain import DOMAIN

pytestmark = pytest.mark.slow

SETTINGS = {
    "domain.module": "retrain.domain.synthetic",
    "domain.settings": {"slow_hours": 24.0, "max_backlog": 100_000},
    "validate.min_rows": 100,
    "validate.max_null_rate": {
        "plan": 0.3,
        "account_age_days": 0.3,
        "first_reply_minutes": 0.2,
        "resolution_hours": 0.2,
    },
    "validate.positive_share": [0.05, 0.95],
    "evaluate.slices": ["channel", "priority"],
    "compare.slices": ["channel", "priority"],
    "drift.exclude": [],
    "gate.min_slice_rows": 100,
    "gate.min_test_rows": 100,
    "gate.floors": {"roc_auc": 0.6, "pr_auc": 0.2},
}


@pytest.fixture(scope="module")
def fork(make_repo: Callable[[], tuple[Path, Run]]) -> tuple[Path, Run]:
    """The copy with the team's domain written and named in params.yaml (what README's steps 1-3 do), uncommitted."""
    path, run = make_repo()
    shutil.copy(ROOT / "tests/synthetic/domain.py", path / "src/retrain/domain/synthetic.py")
    pairs = [f"{key}={json.dumps(value)}" for key, value in SETTINGS.items()]
    run("retrain", "set-params", *pairs, PYTHONPATH=str(path / "src"))
    return path, run


@pytest.fixture(scope="module")
def incoming(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The team's first batches: four Tokyo days of tickets."""
    folder = tmp_path_factory.mktemp("incoming")
    for day in data.days("2026-03-01", 4):
        files.write_frame(data.batch(day, rows=400), folder / f"{day}.parquet")
    return folder


@pytest.fixture(scope="module")
def adopted(fork: tuple[Path, Run], incoming: Path) -> tuple[Path, Run, str]:
    """The fork after `retrain adopt` of the incoming batches, and the commit it started from."""
    path, run = fork
    before = run("git", "rev-parse", "HEAD").stdout.strip()
    run("retrain", "adopt", *map(str, sorted(incoming.glob("*.parquet"))), PYTHONPATH=str(path / "src"))
    return path, run, before


def test_adopt_refuses_files_that_do_not_fit_the_domain_before_anything_changes(
    fork: tuple[Path, Run], incoming: Path, tmp_path: Path
) -> None:
    path, run = fork
    own = {"PYTHONPATH": str(path / "src")}  # the fork's package, with its domain, before the venv's
    before = run("git", "rev-parse", "HEAD").stdout.strip()
    first = str(incoming / "2026-03-01.parquet")
    side = tmp_path / "readings.parquet"  # a side table this domain does not have
    shutil.copy(first, side)
    wrong = run("retrain", "adopt", first, "--side", str(side), check=False, **own)
    assert wrong.returncode == 2 and "side tables are none; given ['readings']" in wrong.stderr
    misnamed = tmp_path / "2026-03.parquet"  # a month: this domain's batches are days
    shutil.copy(first, misnamed)
    wrong = run("retrain", "adopt", str(misnamed), check=False, **own)
    assert wrong.returncode == 2 and "named for their day (YYYY-MM-DD.parquet)" in wrong.stderr
    assert run("git", "rev-parse", "HEAD").stdout.strip() == before
    assert not run("git", "status", "--porcelain", "data").stdout.strip()


def test_adopt_retires_the_example_lands_the_batches_and_compare_promotes_a_first_model(
    adopted: tuple[Path, Run, str],
) -> None:
    path, run, before = adopted
    own = {"PYTHONPATH": str(path / "src")}
    log = run("git", "log", "--format=%s", f"{before}..HEAD").stdout.splitlines()
    assert len(log) == 1 and log[0].startswith("Retire the example")
    committed = run("git", "ls-files", "data").stdout.split()
    assert not [name for name in committed if name.endswith(".dvc")]  # no pointer of the example is left
    assert run("git", "show", "HEAD:dvc.lock", check=False).returncode != 0  # the base names no champion
    pointers = sorted(p.name for p in (path / "data/landing").glob("*.dvc"))
    assert pointers == [f"{day}.parquet.dvc" for day in data.days("2026-03-01", 4)]
    assert files.md5(path / "models/model.skops") and (path / "dvc.lock").exists()
    golden = files.read_json(path / "deploy/golden.json")  # the team's rows now, valid requests of its domain
    request_model(100, DOMAIN).model_validate({"records": golden})
    assert len(golden) == 20 and set(golden[0]) == {*DOMAIN.features, *DOMAIN.label_key}

    result = run("retrain", "compare", "--base", "main", check=False, **own)
    assert result.returncode == 0, result.stderr
    made = json.loads((path / "reports/decision.json").read_text())
    assert made["first_model"] is True and made["promote"] is True
    assert any("first model: no champion to compare with" in reason for reason in made["reasons"])
    summary = run("retrain", "summary", **own).stdout + run("retrain", "summary", **own).stderr
    assert "tickets" in summary


@contextlib.contextmanager
def _served(path: Path, env: dict[str, str], output: Path) -> Iterator[str]:
    """The fork's service as `bentoml serve` runs it from the fork's own source, until it is ready."""
    port = free_port()
    command = ["bentoml", "serve", "retrain.serving.service:Service", "--host", "127.0.0.1", "--port", str(port)]
    with output.open("w") as sink:
        process = subprocess.Popen(command, cwd=path / "src", env=env, stdout=sink, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 90
    try:
        while http.request(f"{url}/readyz")[0] != 200:
            assert process.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_forks_service_answers_as_its_model_and_monitoring_joins_its_late_labels(
    adopted: tuple[Path, Run, str], incoming: Path, tmp_path: Path
) -> None:
    """Its own domain end to end through real processes: `bentoml serve` scores the team's rows as the Pipeline
    does and logs them; `retrain monitor` joins late labels to those predictions by the domain's string key."""
    path, run, _ = adopted
    logs = tmp_path / "inference"
    env = environment(tmp_path / "home") | {
        "PYTHONPATH": str(path / "src"),
        "RETRAIN_ROOT": str(path),
        "RETRAIN_INFERENCE_LOG": str(logs),
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "OMP_NUM_THREADS": "1",
    }
    batches = pd.concat([files.read_frame(p) for p in sorted(incoming.glob("*.parquet"))], ignore_index=True)
    records = data.records(batches, [*DOMAIN.features, *DOMAIN.label_key])  # as a client sends them
    with activated(DOMAIN):
        model = modelfile.load(path / "models/model.skops")
        expected = model.predict_proba(batches[list(DOMAIN.features)])[:, 1]
    with _served(path, env, tmp_path / "server.log") as url:
        status, answer = post(f"{url}/predict", json.dumps({"records": records}).encode())
        assert status == 200, answer
        np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-9)
        assert answer["model"] == files.md5(path / "models/model.skops")
        bad = records[0] | {"priority": "whenever"}  # not among the domain's allowed values
        status, refused = post(f"{url}/predict", json.dumps({"records": [bad]}).encode())
        assert status == 422 and "priority" in json.dumps(refused)
        status, meta = http.request(f"{url}/metadata")
        assert status == 200 and answer["model"] in meta.decode()
        deadline = time.monotonic() + 15
        while sum(len(p.read_text().splitlines()) for p in logs.glob("*.jsonl")) < len(records):
            assert time.monotonic() < deadline, "the inference log did not receive every prediction"
            time.sleep(0.2)

    labels = tmp_path / "labels"
    lines = [
        json.dumps({"ticket": key, "resolution_hours": None if pd.isna(hours) else float(hours)})
        for key, hours in zip(batches["ticket"], batches["resolution_hours"], strict=True)
    ]
    lines += [json.dumps({"ticket": "T-0000000000", "resolution_hours": 3.0}), "{not json"]
    labels.mkdir()
    (labels / "labels.jsonl").write_text("\n".join(lines) + "\n")
    own = {"PYTHONPATH": str(path / "src"), "RETRAIN_INFERENCE_LOG": str(logs), "RETRAIN_LABELS": str(labels)}
    run("retrain", "monitor", **own)
    verdict = files.read_json(path / "reports/monitor.json")
    assert verdict["checks"]["volume"]["predictions"] == len(records)
    performance = verdict["checks"]["performance"]
    assert performance["labelled"] == int(batches["resolution_hours"].notna().sum())  # each known label, once
    assert performance["roc_auc"] > 0.6 and verdict["malformed_label_lines"] == 1
    run("retrain", "alert", **own)
    table = (path / "reports/alert.md").read_text()
    assert re.search(r"\| live ROC AUC \d\.\d{4} on 1,\d{3} labelled; promoted \d\.\d{4} \|", table), table
    assert "newest row scored 2026-03-04 (1 day) |" in table, table


def test_the_fork_past_one_machine_serves_xgboost_fitted_on_a_cluster(
    adopted: tuple[Path, Run, str], incoming: Path, tmp_path: Path
) -> None:
    """`retrain set-params engine=dask train.estimator=xgboost`, then `dvc repro` on a LocalCluster: the model is
    fitted by xgboost.dask, and the real service compiles its trees with Treelite and answers requests small
    enough for them as the Pipeline does (XGBoost sums in float32: within 1e-6), larger ones exactly."""
    path, run, _ = adopted
    own = {"PYTHONPATH": str(path / "src")}
    run("retrain", "set-params", "engine=dask", "train.estimator=xgboost", **own)
    result = run("dvc", "repro", **own)
    assert stages_run(result) == ["tune", "train", "evaluate"] and "dask: 2 worker(s)" in result.stderr
    assert files.read_json(path / "models/model.json")["estimator"] == "xgboost"
    env = environment(tmp_path / "home") | own | {"RETRAIN_ROOT": str(path), "BENTOML_HOME": str(tmp_path / "b")}
    batches = pd.concat([files.read_frame(p) for p in sorted(incoming.glob("*.parquet"))], ignore_index=True)
    records = data.records(batches, [*DOMAIN.features, *DOMAIN.label_key])
    with activated(DOMAIN):
        expected = modelfile.load(path / "models/model.skops").predict_proba(batches[list(DOMAIN.features)])[:, 1]
    with _served(path, env, tmp_path / "server.log") as url:
        status, meta = http.request(f"{url}/metadata")
        assert status == 200 and json.loads(meta)["compiled_trees"] is True
        for start, size in ((0, 1), (1, 100), (101, 1500)):  # compiled up to COMPILED_ROWS, the Pipeline above
            status, answer = post(f"{url}/predict", json.dumps({"records": records[start : start + size]}).encode())
            assert status == 200, answer
            np.testing.assert_allclose(answer["probabilities"], expected[start : start + size], rtol=0, atol=1e-6)
