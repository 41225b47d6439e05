"""Outputs do not depend on the CPU: `retrain drift` and `retrain evaluate` on a small real slice, and the report's
tuning plots, write the same bytes with numpy's fastest kernels for this machine and with its baseline ones (no AVX2,
no AVX-512).

numpy 2.4 picks a SIMD kernel per CPU at import; `NPY_DISABLE_CPU_FEATURES` turns the faster ones off (names it does
not know are ignored, the baseline X86_V2 cannot be disabled). On a machine without AVX2 both runs take the same path
and these tests cannot tell: `python -c "import numpy; numpy.show_runtime()"` lists what numpy found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from retrain.domain import Domain
from retrain.domain.nycflights import data as nycflights
from retrain.io import files, modelfile
from retrain.params import Params
from retrain.pipeline import featurize, train
from tests.support import ROOT

BASELINE = {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"}

# The two commands as dvc runs them, less the MLflow run: a store outside the repository, not an output, and logging
# a model costs about 6 s.
STAGES = """
import sys
from retrain import tracking
tracking.log_model = lambda *args, **kwargs: ""
from retrain.cli.main import main
sys.exit(main(["drift"]) or main(["evaluate"]))
"""

# What `retrain report` draws for a tuning run; importance is rounded to 4 digits, so values can tie.
TUNING_PLOTS = """
from pathlib import Path
from retrain import plots
from retrain.results import Tuning
trials = [{"number": n, "state": "complete", "value": 0.7 + n / 100} for n in range(5)]
importance = {"learning_rate": 0.6, "max_iter": 0.4, "max_leaf_nodes": 0.0, "min_samples_leaf": 0.0, "l2": 0.0}
best = Tuning(tuned=True, estimator="hist_gradient_boosting", hyperparameters={}, importance=importance)
plots.tuning(trials, best, Path("reports"))
"""


def _native_and_baseline(code: str, tmp_path: Path, inputs: Path | None = None) -> list[dict[str, bytes]]:
    """Run `code` in two copies of `inputs` side by side, natively and on numpy's baseline kernels; the files each
    run added, by relative path (less reports/usage, which holds timings)."""
    env = dict(
        os.environ,
        DVC_NO_ANALYTICS="1",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
        OMP_NUM_THREADS="1",  # two processes on two cores
    )
    env.pop("NPY_DISABLE_CPU_FEATURES", None)
    runs = []
    for name, extra in (("native", {}), ("baseline", BASELINE)):
        folder = tmp_path / name
        if inputs:
            shutil.copytree(inputs, folder)
        else:
            folder.mkdir()
        command = [sys.executable, "-c", code]
        process = subprocess.Popen(command, cwd=folder, env=env | extra, stderr=subprocess.PIPE, text=True)
        runs.append((folder, process))
    written = []
    for folder, process in runs:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, f"{folder.name} exited {process.returncode}:\n{stderr}"
        names = [str(path.relative_to(folder)) for path in sorted(folder.rglob("*")) if path.is_file()]
        new = [
            name
            for name in names
            if not (inputs and (inputs / name).exists()) and not name.startswith("reports/usage/")
        ]
        written.append({name: (folder / name).read_bytes() for name in new})
    return written


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, params: Params, domain: Domain) -> Path:
    """What drift and evaluate read: the features of quarter slices of months 1-3 and a small model fitted on them."""
    root = tmp_path_factory.mktemp("inputs")
    shutil.copy(ROOT / "params.yaml", root)
    flights = pd.concat(
        [nycflights.flights(2013, month).sample(frac=0.25, random_state=month) for month in (1, 2, 3)],
        ignore_index=True,
    )
    split = featurize.featurize(flights, {"weather": nycflights.weather()}, params.featurize, domain)
    files.write_frame(split.train, root / params.paths.train)
    files.write_frame(split.test, root / params.paths.test)
    settings = params.train.model_copy(update={"hyperparameters": {"hist_gradient_boosting": {"max_iter": 30}}})
    modelfile.save(train.train(split.train, settings, domain), root / params.paths.model)
    return root


def test_drift_and_evaluate_write_the_same_bytes_with_baseline_kernels(
    inputs: Path, tmp_path: Path, params: Params
) -> None:
    native, baseline = _native_and_baseline(STAGES, tmp_path, inputs)
    paths = params.paths
    expected = [paths.metrics, paths.slices, paths.drift, paths.drift_figure]
    expected += [paths.plots / f"{name}.json" for name in ("roc", "pr", "calibration", "confusion")]
    expected += [paths.figures / f"{name}.png" for name in ("roc", "pr", "calibration", "confusion")]
    assert sorted(native) == sorted(baseline) == sorted(str(path) for path in expected)
    assert [name for name in native if native[name] != baseline[name]] == []


def test_the_tuning_plots_are_the_same_bytes_with_baseline_kernels(tmp_path: Path) -> None:
    native, baseline = _native_and_baseline(TUNING_PLOTS, tmp_path)
    assert sorted(native) == ["reports/tuning_history.png", "reports/tuning_importance.png"]
    assert [name for name in native if native[name] != baseline[name]] == []
