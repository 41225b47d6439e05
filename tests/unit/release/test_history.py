"""`retrain history` reads promotions and rollbacks from git alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from retrain.release import history


def _commit(repo: Path, message: str, md5: str, roc_auc: float, other: str = "x", cost: float | None = None) -> None:
    stages = {"train": {"outs": [{"path": "models/model.skops", "md5": md5}]}, "drift": {"outs": [{"path": other}]}}
    lock = {"schema": "2.0", "stages": stages}
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    (repo / "metrics").mkdir(exist_ok=True)
    (repo / "metrics/metrics.json").write_text(json.dumps({"roc_auc": roc_auc, "pr_auc": 0.5}))
    (repo / "reports").mkdir(exist_ok=True)
    (repo / "reports/cost.json").write_text(json.dumps({"estimate_usd": cost, "minutes_billed": 2} if cost else {}))
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", message], cwd=repo, check=True)


def test_promotions_and_a_revert_newest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path
    for key in ("GIT_AUTHOR", "GIT_COMMITTER"):
        monkeypatch.setenv(f"{key}_NAME", "ana")
        monkeypatch.setenv(f"{key}_EMAIL", "a@example.com")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    _commit(repo, "First model (#1)", "a" * 32, 0.74)
    _commit(repo, "Rerun drift only", "a" * 32, 0.74, other="y")  # same model: not a change of who serves
    _commit(repo, "Merge pull request #2 from acme/retrain/main", "b" * 32, 0.76, cost=0.016)
    _commit(repo, 'Revert "Merge pull request #2 from acme/retrain/main"', "a" * 32, 0.74)
    rows = history.history(
        repo, "main", Path("models/model.skops"), Path("metrics/metrics.json"), Path("reports/cost.json")
    )
    assert [(r["model_md5"][0], r["pull_request"], r["revert"], r["roc_auc"]) for r in rows] == [
        ("a", 2, True, 0.74),
        ("b", 2, False, 0.76),
        ("a", 1, False, 0.74),
    ]
    table = history.table(rows).splitlines()
    assert table[2].startswith(f"| {rows[0]['date'][:19]} | `aaaaaaaa` | 0.7400 | - |")
    assert table[3].startswith(f"| {rows[1]['date'][:19]} | `bbbbbbbb` | 0.7600 | $0.0160 (2 min) |")
