"""`retrain adopt` on a copy of this repository whose domain is the synthetic one (tests/synthetic): a fork's first
model, from the example's state to a first model that `compare` promotes by the fork's own floors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from retrain.io import files
from retrain.serving.request import request_model
from tests.support import ROOT, Run
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


def test_adopt_retires_the_example_lands_the_batches_and_compare_promotes_a_first_model(
    fork: tuple[Path, Run], tmp_path: Path
) -> None:
    path, run = fork
    own = {"PYTHONPATH": str(path / "src")}  # the fork's package, with its domain, before the venv's
    incoming = tmp_path / "incoming"
    for day in data.days("2026-03-01", 4):
        files.write_frame(data.batch(day, rows=400), incoming / f"{day}.parquet")
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
    assert run("git", "rev-parse", "HEAD").stdout.strip() == before  # refused before anything changed

    run("retrain", "adopt", *map(str, sorted(incoming.glob("*.parquet"))), **own)
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
