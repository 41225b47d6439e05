"""The CLI's contract: exit 2 and one clear message for bad usage and bad input, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from retrain import cli
from retrain.cli.main import main
from retrain.cli.stages import STAGES
from retrain.domain import load_domain, periods
from retrain.params import Params
from tests.support import ROOT


def _params(tmp_path: Path, change: dict[str, dict[str, object]] | None = None) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in (change or {}).items():
        params[section].update(values)
    params["paths"] = {key: str(tmp_path / value) for key, value in params["paths"].items()}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_a_log_retention_shorter_than_the_monitoring_window_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _params(tmp_path, {"serve": {"log_retention_days": 3}})
    assert main(["--params", str(path), "summary"]) == cli.EXIT_BAD_INPUT
    assert f"{path}: serve.log_retention_days (3.0) must be at least monitor.window_days (7)" in caplog.text


def test_a_wrong_param_names_the_file_and_the_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _params(tmp_path, {"evaluate": {"threshold": 1.5}})
    assert main(["--params", str(path), "evaluate"]) == cli.EXIT_BAD_INPUT
    assert f"{path}: evaluate.threshold: Input should be less than 1" in caplog.text


def test_a_missing_landing_folder_is_bad_input(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert main(["--params", str(_params(tmp_path)), "validate"]) == cli.EXIT_BAD_INPUT
    assert "landing folder not found" in caplog.text


@pytest.mark.parametrize("wrong", [True, False])
def test_a_bad_batch_file_is_bad_input(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, params: Params, wrong: bool
) -> None:
    """A file not named for a batch period of the domain's, or one that is no parquet, is named in the error."""
    period = load_domain(params).period
    name = "july.parquet" if wrong else periods.label(pd.Timestamp("2024-03-04"), period) + ".parquet"
    path = _params(tmp_path)
    (tmp_path / "data/landing").mkdir(parents=True)
    (tmp_path / "data/landing" / name).write_bytes(b"" if wrong else b"not parquet")
    assert main(["--params", str(path), "validate"]) == cli.EXIT_BAD_INPUT
    message = f"must be named {periods.FORM[period]}.parquet, found july.parquet" if wrong else "not a readable"
    assert message in caplog.text and name in caplog.text


def test_unknown_command_is_bad_usage() -> None:
    assert main(["fly"]) == cli.EXIT_BAD_INPUT


def test_every_stage_in_dvc_yaml_is_a_subcommand_of_the_same_name() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert {name: stage["cmd"] for name, stage in stages.items()} == {name: f"retrain {name}" for name in STAGES}


def test_a_light_command_loads_no_heavy_library(tmp_path: Path) -> None:
    """Each command imports its room when it runs: `retrain set-params` (every retrain workflow runs it) loads none
    of the libraries that only other commands need (it started in 2.6 s when the CLI imported every room)."""
    path = _params(tmp_path)
    check = (
        "import sys\n"
        "from retrain.cli.main import main\n"
        f"code = main(['--params', {str(path)!r}, 'set-params', 'train.seed=7'])\n"
        "heavy = {'matplotlib', 'scipy', 'sklearn', 'mlflow', 'dvc', 'bentoml', 'skops', 'optuna'}\n"
        "print(code, sorted({name.split('.')[0] for name in sys.modules} & heavy))\n"
    )
    env = {name: value for name, value in os.environ.items() if name != "RETRAIN_PARAMS"}  # overrides of its own
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout + result.stderr
    assert yaml.safe_load(path.read_text())["train"]["seed"] == 7


def test_name_prints_the_bento_name_of_the_domain_params_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = tmp_path / "other_domain.py"  # a domain named by params.yaml, elsewhere than the example
    module.write_text(
        "from dataclasses import replace\n"
        "from tests.synthetic.domain import DOMAIN as TICKETS\n"
        "DOMAIN = replace(TICKETS, name='churn-risk')\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        settings = {"slow_hours": 24.0, "max_backlog": 100_000}
        path = _params(tmp_path, {"domain": {"module": "other_domain", "settings": settings}})
        assert main(["--params", str(path), "name"]) == cli.EXIT_OK
        assert capsys.readouterr().out.strip() == "churn_risk"
        wrong = _params(tmp_path, {"domain": {"module": "no_such_domain"}})
        assert main(["--params", str(wrong), "name"]) == cli.EXIT_BAD_INPUT
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("other_domain", None)
