"""`retrain promote` moves the MLflow alias `champion` with git: a promotion, then a revert, back to the old version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from sklearn.pipeline import Pipeline

from retrain.cli.main import main
from retrain.domain import Domain
from retrain.domain.nycflights import data as nycflights
from retrain.domain.nycflights import features
from retrain.io import files, modelfile
from retrain.params import Params
from retrain.pipeline import featurize, train
from tests.support import ROOT


def _deploy(root: Path, model: Pipeline) -> str:
    modelfile.save(model, root / "models/model.skops")
    md5 = files.md5(root / "models/model.skops")
    lock = {"schema": "2.0", "stages": {"train": {"outs": [{"path": "models/model.skops", "md5": md5}]}}}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))
    return md5


def test_promote_then_revert_moves_the_champion_alias_back(
    tmp_path: Path, params: Params, monkeypatch: pytest.MonkeyPatch, domain: Domain
) -> None:
    joined = features.join_weather(nycflights.flights(2013, 3).head(4000), nycflights.weather())
    frame = featurize.label(joined, domain)[0]
    models = []
    for iterations in (10, 20):
        settings = params.train.model_copy(
            update={"hyperparameters": {"hist_gradient_boosting": {"max_iter": iterations}}}
        )
        models.append(train.train(frame, settings, domain))
    for folder in ("models", "metrics", "deploy"):
        (tmp_path / folder).mkdir()
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    shutil.copy(ROOT / "deploy/golden.json", tmp_path / "deploy/golden.json")
    (tmp_path / "metrics/metrics.json").write_text(json.dumps({"roc_auc": 0.74}))
    (tmp_path / "models/model.json").write_text(json.dumps({"data_md5": "d", "git_commit": "c"}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_ACTOR", "ana")
    client = mlflow.MlflowClient()

    def champion() -> tuple[str, str]:
        version = client.get_model_version_by_alias(params.tracking.registered_model, "champion")
        return version.version, version.tags["model_md5"]

    old = _deploy(tmp_path, models[0])
    assert main(["promote"]) == 0
    first = champion()
    new = _deploy(tmp_path, models[1])
    assert main(["promote"]) == 0
    assert champion()[1] == new and champion()[0] != first[0]
    assert _deploy(tmp_path, models[0]) == old  # git revert: dvc.lock names the old bytes again
    assert main(["promote"]) == 0
    assert champion() == first
    version = client.get_model_version(params.tracking.registered_model, first[0])
    assert version.tags["deployed_by"] == "ana"
    assert pd.Timestamp(version.tags["deployed_at"]).tzinfo is not None

    # in GitHub Actions without MLFLOW_TRACKING_URI the registry is a file on the runner: the job summary says so
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    assert main(["promote"]) == 0
    summary = (tmp_path / "summary.md").read_text()
    assert f"the MLflow registry is sqlite:///{tmp_path / 'mlflow.db'}, a file on this runner" in summary
    assert "Deployed model" in summary  # the promotion itself is still reported
