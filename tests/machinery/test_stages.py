"""The stages as `dvc repro` runs them (each stage's `run(params, root)`, files in, files out) on landed daily
batches of the synthetic domain: validate, featurize, tune (off), train, evaluate (MLflow included), drift; then
`retrain monitor` on an inference log and late labels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from retrain.domain import Domain
from retrain.io import files, modelfile
from retrain.monitoring import monitor
from retrain.params import Params
from retrain.pipeline import drift, evaluate, featurize, train, tune, validate
from retrain.results import DriftResult, Validation
from tests.synthetic import data


def test_the_stages_run_on_landed_daily_batches(
    tmp_path: Path,
    batches: dict[str, pd.DataFrame],
    synthetic_params: Params,
    synthetic: Domain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = {name: tmp_path / value for name, value in synthetic_params.paths.model_dump().items()}
    params = synthetic_params.model_copy(update={"paths": synthetic_params.paths.model_copy(update=paths)})
    for name, frame in batches.items():
        files.write_frame(frame, params.paths.landing / Path(name).name)
    for stage in (validate, featurize, tune, train, evaluate, drift):
        stage.run(params, tmp_path)
    report = Validation.read(params.paths.validation)
    assert report.passed and len(report.batches) == 10
    assert files.read_frame(params.paths.validated)["ticket"].is_unique
    assert files.read_json(params.paths.data_metrics)["test"]["rows"] == len(files.read_frame(params.paths.test))
    assert files.read_json(params.paths.metrics)["roc_auc"] > 0.75
    assert {row["slice"] for row in files.read_json(params.paths.slices)} == {"channel", "priority", "plan"}
    meta = files.read_json(params.paths.model_meta)
    assert (meta["target"], meta["features"][0]) == ("slow", "opened_at")
    result = DriftResult.read(params.paths.drift)
    assert result.current_rows == len(files.read_frame(params.paths.test)) and params.paths.drift_figure.exists()

    test = files.read_frame(params.paths.test)
    (tmp_path / "log").mkdir()
    (tmp_path / "labels").mkdir()
    model = modelfile.load(params.paths.model)
    now, columns = pd.Timestamp("2024-03-11 12:00", tz="UTC"), [*synthetic.features, *synthetic.label_key]
    lines = data.log_lines(test, evaluate.predict(model, test, synthetic), columns, now)
    (tmp_path / "log/predictions.jsonl").write_text("\n".join(lines))
    (tmp_path / "labels/labels.jsonl").write_text("\n".join(data.label_lines(test)))
    monkeypatch.setenv("RETRAIN_INFERENCE_LOG", str(tmp_path / "log"))
    monkeypatch.setenv("RETRAIN_LABELS", str(tmp_path / "labels"))
    verdict = monitor.run(params, tmp_path, now=str(now))
    assert verdict.checks.performance is not None and verdict.checks.performance.labelled == len(test)
    assert verdict.models_seen == ["a" * 32] and params.paths.monitor.exists()
