"""Old model files keep loading and scoring as they did: a model fitted and saved by the code before the package was
split into rooms (taken from git history, a Pipeline without today's cleaning step) loads with today's code and gives
the probabilities the old code gave; on data without impossible readings, today's fit gives the same ones."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrain.domain import features, nycflights, schema
from retrain.io import files, modelfile
from retrain.pipeline import featurize
from retrain.pipeline.model import build
from tests.support import ROOT

HYPERPARAMETERS = {"max_iter": 20, "max_leaf_nodes": 15, "early_stopping": False}
OLD_FIT = """
import sys
import pandas as pd
from retrain import io, pipeline, schema
frame = pd.read_parquet(sys.argv[1])
model = pipeline.build("hist_gradient_boosting", {"max_iter": 20, "max_leaf_nodes": 15, "early_stopping": False}, 42)
model.fit(frame[list(schema.FEATURES)], frame[schema.TARGET])
io.save_model(model, __import__("pathlib").Path(sys.argv[2]))
__import__("numpy").save(sys.argv[3], model.predict_proba(frame[list(schema.FEATURES)]))
"""


def _flat_layout_commit() -> str:
    """The last commit of the flat layout: the parent of the one that made `pipeline.py` a package."""
    split = subprocess.run(
        ["git", "log", "-1", "--format=%H", "--diff-filter=D", "--", "src/retrain/pipeline.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not split:
        pytest.fail("git history does not reach the flat layout (a shallow clone?): fetch the full history")
    return f"{split}^"


def test_a_model_saved_by_the_flat_layout_loads_and_scores_as_it_did(tmp_path: Path) -> None:
    archive = subprocess.run(
        ["git", "archive", _flat_layout_commit(), "src"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(tmp_path / "old", filter="data")
    joined = features.join_weather(nycflights.flights(2013, 1), nycflights.weather())
    frame, _ = featurize.label(joined, 15)
    files.write_frame(frame, tmp_path / "train.parquet")

    old = tmp_path / "old.skops"
    env = {"PYTHONPATH": str(tmp_path / "old" / "src"), "PATH": "/usr/bin:/bin"}
    scored = tmp_path / "old.npy"
    command = [sys.executable, "-c", OLD_FIT, str(tmp_path / "train.parquet"), str(old), str(scored)]
    subprocess.run(command, env=env, check=True)
    assert not (frame["wind_speed"] > 100).any()  # January 2013: today's cleaning step changes nothing here
    new = tmp_path / "new.skops"
    model = build("hist_gradient_boosting", HYPERPARAMETERS, 42, max_wind_speed=100)
    modelfile.save(model.fit(frame[list(schema.FEATURES)], frame[schema.TARGET]), new)

    rows = pd.DataFrame(frame[list(schema.FEATURES)])
    np.testing.assert_array_equal(modelfile.load(old).predict_proba(rows), np.load(scored))
    np.testing.assert_array_equal(modelfile.load(new).predict_proba(rows), np.load(scored))
