"""Old model files keep loading and the same fit keeps its bytes: a model fitted and saved by the code before the
package was split into rooms (taken from git history) has the md5 of the same fit saved by today's code, and
today's code loads it and gives identical probabilities."""

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
io.save_model(model.fit(frame[list(schema.FEATURES)], frame[schema.TARGET]), __import__("pathlib").Path(sys.argv[2]))
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


def test_a_model_saved_by_the_flat_layout_has_todays_bytes_and_loads(tmp_path: Path) -> None:
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
    subprocess.run([sys.executable, "-c", OLD_FIT, str(tmp_path / "train.parquet"), str(old)], env=env, check=True)
    new = tmp_path / "new.skops"
    modelfile.save(
        build("hist_gradient_boosting", HYPERPARAMETERS, 42).fit(frame[list(schema.FEATURES)], frame[schema.TARGET]),
        new,
    )

    assert files.md5(old) == files.md5(new)
    rows = pd.DataFrame(frame[list(schema.FEATURES)])
    np.testing.assert_array_equal(modelfile.load(old).predict_proba(rows), modelfile.load(new).predict_proba(rows))
