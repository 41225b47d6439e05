"""`retrain tune` for real: Optuna in worker processes on one SQLite study, inside `dvc repro`, logged to MLflow."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import mlflow
import pytest

from tests.example.support import write_slice
from tests.support import Run, stages_run

pytestmark = pytest.mark.slow
SMALL_SPACE = "{learning_rate: {low: 0.05, high: 0.5, log: true}, max_iter: {low: 10, high: 40, step: 10}}"


@pytest.fixture(scope="module")
def tuned(make_repo: Callable[[], tuple[Path, Run]]) -> tuple[Path, Run]:
    """A copy with quarter slices of months 1-4 and tuning on: 6 trials, 2 workers, a small space."""
    path, run = make_repo()
    for pointer in [*path.glob("data/landing/*.dvc"), path / "data/side/weather.parquet.dvc"]:
        pointer.unlink()
    for month in (1, 2, 3, 4):
        write_slice(path / "data/landing", month)
    from retrain.domain.nycflights import data as nycflights
    from retrain.io import files

    files.write_frame(nycflights.weather(), path / "data/side/weather.parquet")
    run(
        "retrain",
        "set-params",
        "tune.enabled=true",
        "tune.trials=6",
        "tune.workers=2",
        "tune.pruning=false",
        f"tune.space.hist_gradient_boosting={SMALL_SPACE}",
    )
    return path, run


def test_two_worker_processes_share_one_study_and_train_uses_its_best(tuned: tuple[Path, Run]) -> None:
    path, run = tuned
    result = run("dvc", "repro")
    assert stages_run(result)[-3:] == ["tune", "train", "evaluate"]
    trials = json.loads((path / "tuning/trials.json").read_text())
    finished = [t for t in trials if t["state"] == "complete"]
    assert 6 <= len(finished) <= 7  # each worker stops when the study holds 6; one may be finishing its last
    assert sorted(t["number"] for t in trials) == list(range(len(trials)))  # one sequence, no trial twice
    assert len({json.dumps(t["params"], sort_keys=True) for t in trials}) == len(trials)
    assert len({t["worker_pid"] for t in trials}) == 2
    best = json.loads((path / "tuning/best.json").read_text())
    assert best["tuned"] and best["best_value"] == round(max(t["value"] for t in finished), 6)
    assert best["trials"]["complete"] == len(finished) and set(best["importance"]) == {"learning_rate", "max_iter"}
    model = json.loads((path / "models/model.json").read_text())
    assert {k: model["hyperparameters"][k] for k in best["hyperparameters"]} == best["hyperparameters"]

    run("retrain", "compare", "--base", "HEAD", check=False)  # HEAD's champion is not in this cache: blocked
    run("retrain", "report", "--base", "HEAD")
    text = (path / "reports/report.md").read_text()
    assert "<summary>Tuning</summary>" in text and f"Best: trial {best['best_trial']}," in text
    assert (path / "reports/tuning_history.png").read_bytes()[:4] == b"\x89PNG"
    assert "![parameter importance](tuning_importance.png)" in text

    assert stages_run(run("dvc", "repro")) == []
    run("retrain", "tune", "--workers", "2")  # the same inputs: the study is found done, no new trial
    assert json.loads((path / "tuning/trials.json").read_text()) == trials

    client = mlflow.MlflowClient(tracking_uri=run("sh", "-c", "echo $MLFLOW_TRACKING_URI").stdout.strip())
    experiment = client.get_experiment_by_name("flight-delays")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("dvc_stage") == "tune"]
    assert len(parents) == 1  # one parent run per study, however often it is run
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(int(r.data.tags["trial"]) for r in children) == [t["number"] for t in trials]


def test_tune_off_trains_with_the_fixed_values(tuned: tuple[Path, Run]) -> None:
    path, run = tuned
    run("retrain", "set-params", "tune.enabled=false")
    assert stages_run(run("dvc", "repro"))[0] == "tune"
    assert json.loads((path / "tuning/best.json").read_text())["tuned"] is False
    model = json.loads((path / "models/model.json").read_text())
    assert model["hyperparameters"]["max_iter"] == 300 and model["hyperparameters"]["learning_rate"] == 0.1


def test_two_runners_on_one_storage_share_the_study_and_dvc_repro_finds_it_done(tuned: tuple[Path, Run]) -> None:
    """What the workflow's tuning matrix does: independent `retrain tune` processes on one database, then repro."""
    path, run = tuned
    storage = f"sqlite:///{path.parent / 'shared-study.db'}"
    run("retrain", "set-params", "tune.enabled=true", "tune.trials=5", "tune.workers=1")
    run("dvc", "repro", "featurize")  # as `make ci-tune` does on each runner
    runners = "RETRAIN_TUNE_RUNNER=1 retrain tune & one=$!; RETRAIN_TUNE_RUNNER=2 retrain tune & two=$!"
    run("sh", "-c", f"{runners}; wait $one && wait $two", RETRAIN_TUNE_STORAGE=storage)
    shared = json.loads((path / "tuning/trials.json").read_text())
    assert len({t["worker_pid"] for t in shared}) == 2 and 5 <= len(shared) <= 6
    assert len({json.dumps(t["params"], sort_keys=True) for t in shared}) == len(shared)  # no point tried twice
    assert stages_run(run("dvc", "repro", RETRAIN_TUNE_STORAGE=storage))[0] == "tune"
    assert json.loads((path / "tuning/trials.json").read_text()) == shared  # found done: no trial added
