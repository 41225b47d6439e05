"""`dvc repro` for real, on a small real slice of the flights, in a temporary copy of the repository."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from retrain.domain.nycflights import data as nycflights
from retrain.io import files
from tests.example.support import write_slice
from tests.support import Run, stages_run

pytestmark = pytest.mark.slow
ALL_STAGES = ["validate", "featurize", "drift", "tune", "train", "evaluate"]


@pytest.fixture(scope="module")
def repo(make_repo: Callable[[], tuple[Path, Run]]) -> tuple[Path, Run]:
    """A copy whose landing folder holds quarter slices of months 1-3 (no pointers: they name the full months)."""
    path, run = make_repo()
    for pointer in [*path.glob("data/landing/*.dvc"), path / "data/side/weather.parquet.dvc"]:
        pointer.unlink()
    for month in (1, 2, 3):
        write_slice(path / "data/landing", month)
    files.write_frame(nycflights.weather(), path / "data/side/weather.parquet")
    return path, run


def test_repro_runs_every_stage_then_nothing(repo: tuple[Path, Run]) -> None:
    path, run = repo
    first = run("dvc", "repro")
    assert sorted(stages_run(first)) == sorted(ALL_STAGES)
    metrics = json.loads((path / "metrics/metrics.json").read_text())
    assert 0.6 < metrics["roc_auc"] < 1
    assert json.loads((path / "metrics/data.json").read_text())["test"]["first"].startswith("2013-03")
    drift = json.loads((path / "reports/drift.json").read_text())
    assert len(drift["features"]) == 15 and (path / "reports/drift.png").read_bytes()[:4] == b"\x89PNG"
    for name in ("roc", "pr", "calibration", "confusion"):
        assert (path / f"reports/figures/{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert 2 <= len(json.loads((path / f"metrics/plots/{name}.json").read_text())) <= 101
    usage = {p.stem: json.loads(p.read_text()) for p in (path / "reports/usage").glob("*.json")}
    assert sorted(usage) == sorted(ALL_STAGES)  # what each stage used as it ran: the cost section's figures
    assert usage["train"]["cpu_seconds"] > 0.1 and 50 < usage["train"]["peak_mib"] < 4000
    assert stages_run(run("dvc", "repro")) == []


def test_changing_train_params_reruns_only_tune_train_and_evaluate(repo: tuple[Path, Run]) -> None:
    path, run = repo
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["train"]["hyperparameters"]["hist_gradient_boosting"]["max_iter"] = 50
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert stages_run(run("dvc", "repro")) == ["tune", "train", "evaluate"]  # tune: off, in a blink


def test_a_new_batch_reruns_from_validate(repo: tuple[Path, Run]) -> None:
    path, run = repo
    write_slice(path / "data/landing", 4)
    assert stages_run(run("dvc", "repro"))[:2] == ["validate", "featurize"]
    assert json.loads((path / "metrics/data.json").read_text())["test"]["first"].startswith("2013-04")


def test_a_bad_batch_stops_the_pipeline_and_stays_where_it_was(repo: tuple[Path, Run]) -> None:
    path, run = repo
    frame = nycflights.flights(2013, 5).head(3000)
    frame.loc[:9, "origin"] = "BOS"
    bad = path / "data/landing/2013-05.parquet"
    files.write_frame(frame, bad)
    before = {p.name: files.md5(p) for p in (path / "data/landing").iterdir()}
    result = run("dvc", "repro", check=False)
    assert result.returncode != 0
    assert stages_run(result) == ["validate"]
    assert "data/landing/2013-05.parquet: column 'origin' breaks rule 'one of EWR, JFK, LGA' (10 rows)" in result.stderr
    assert {p.name: files.md5(p) for p in (path / "data/landing").iterdir()} == before
    report = json.loads((path / "reports/validation.json").read_text())
    assert report["passed"] is False and report["violations"][0]["column"] == "origin"
    bad.unlink()
    assert stages_run(run("dvc", "repro")) == ["validate"]  # the same data as before: the rest is up to date


def test_two_runs_from_a_clean_cache_give_the_same_metrics_and_model(repo: tuple[Path, Run]) -> None:
    path, run = repo
    metrics, model = (path / "metrics/metrics.json").read_text(), files.md5(path / "models/model.skops")
    shutil.rmtree(path / ".dvc/cache")
    for output in ("models", "data/features", "data/validated", "metrics", "tuning"):
        shutil.rmtree(path / output)
    assert sorted(stages_run(run("dvc", "repro"))) == sorted(ALL_STAGES)
    assert (path / "metrics/metrics.json").read_text() == metrics
    assert files.md5(path / "models/model.skops") == model


def test_the_dask_engine_writes_every_output_again_byte_for_byte(repo: tuple[Path, Run]) -> None:
    """`retrain set-params engine=dask`: train depends on the engine (an XGBoost estimator would be fitted on the
    cluster) and gives the same model, so DVC skips evaluate; every stage rerun on a LocalCluster (two worker
    processes here) writes the outputs that dvc.lock names, to the byte."""
    path, run = repo
    outputs = _outs(path)
    run("retrain", "set-params", "engine=dask")
    assert stages_run(run("dvc", "repro")) == ["train"]
    assert _outs(path) == outputs
    result = run("dvc", "repro", "--force")
    assert sorted(stages_run(result)) == sorted(ALL_STAGES) and "dask: 2 worker(s)" in result.stderr
    assert _outs(path) == outputs
    run("retrain", "set-params", "engine=local")


def _outs(path: Path) -> dict[str, str]:
    """Each output dvc.lock names, and its md5."""
    stages = yaml.safe_load((path / "dvc.lock").read_text())["stages"]
    return {out["path"]: out["md5"] for stage in stages.values() for out in stage.get("outs", [])}


def test_an_unreachable_tracking_server_is_one_clear_line(repo: tuple[Path, Run]) -> None:
    _, run = repo
    result = run("retrain", "evaluate", check=False, MLFLOW_TRACKING_URI="http://127.0.0.1:9")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "http://127.0.0.1:9" in errors[0] and "MLFLOW_TRACKING_URI" in errors[0]
    assert "Traceback" not in result.stderr
