"""`retrain compare` and `retrain report` against real git refs, a real DVC cache and a real MLflow registry."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import mlflow
import pytest
import yaml

from retrain.domain.nycflights import data as nycflights
from retrain.io import files
from tests.example.support import write_slice
from tests.support import Run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(make_repo: Callable[[], tuple[Path, Run]]) -> tuple[Path, Run]:
    """`first` has no model; `main` has a model trained on quarter slices of months 1-3; `lost` names a model
    that no cache or remote holds."""
    path, run = make_repo()
    for pointer in [*path.glob("data/landing/*.dvc"), path / "data/side/weather.parquet.dvc"]:
        pointer.unlink()
    (path / "dvc.lock").unlink()
    run("git", "add", "-A")
    run("git", "commit", "-qm", "no model yet")
    run("git", "branch", "first")
    for month in (1, 2, 3):
        write_slice(path / "data/landing", month)
    files.write_frame(nycflights.weather(), path / "data/side/weather.parquet")
    run("dvc", "repro")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "first model")
    lock = (path / "dvc.lock").read_text()
    run("git", "checkout", "-q", "-b", "lost")
    (path / "dvc.lock").write_text(lock.replace(files.md5(path / "models/model.skops"), "0" * 32))
    run("git", "commit", "-qam", "a model nobody pushed")
    run("git", "checkout", "-q", "main")
    return path, run


def decision(path: Path) -> dict[str, object]:
    return dict(json.loads((path / "reports/decision.json").read_text()))


def test_the_same_model_as_main_promotes_with_no_significant_change(repo: tuple[Path, Run]) -> None:
    path, run = repo
    result = run("retrain", "compare", "--base", "main", check=False)
    assert result.returncode == 0, result.stderr
    made = decision(path)
    assert made["promote"] is True and str(made["summary"]).startswith("no significant change")
    assert made["comparison"]["roc_auc"]["delta"] == 0.0  # type: ignore[index]
    assert made["champion"]["model_md5"] == made["challenger"]["model_md5"] == files.md5(path / "models/model.skops")  # type: ignore[index]


def test_a_first_model_is_judged_on_floors(repo: tuple[Path, Run]) -> None:
    path, run = repo
    assert run("retrain", "compare", "--base", "first", check=False).returncode == 0
    made = decision(path)
    assert made["first_model"] is True and made["champion"]["model_md5"] is None  # type: ignore[index]
    assert any("first model: no champion to compare with" in reason for reason in made["reasons"])  # type: ignore[attr-defined]


def test_a_first_model_is_judged_by_the_gate_of_its_own_tree_not_the_bases(repo: tuple[Path, Run]) -> None:
    """A base without a model has no rules worth keeping (a fork's first model: the example's gate): the tree's own
    floors judge. Once a model is on the base, its rules judge (test_the_gate_rules_of_the_base_judge_...)."""
    path, run = repo
    params = path / "params.yaml"
    original = params.read_text()
    try:
        run("retrain", "set-params", "gate.floors.roc_auc=0.99")
        assert run("retrain", "compare", "--base", "first", check=False).returncode == 3  # its own, strict floor
        params.write_text(original)
        run("git", "checkout", "-q", "first")
        run("retrain", "set-params", "gate.floors.roc_auc=0.99")  # the base's floor: not this tree's
        run("git", "commit", "-qam", "a strict gate on a base without a model")
        run("git", "checkout", "-q", "main")
        assert run("retrain", "compare", "--base", "first", check=False).returncode == 0
    finally:
        run("git", "checkout", "-q", "main")
        params.write_text(original)


@pytest.mark.parametrize(("base", "why"), [("lost", "could not be fetched"), ("no-such-branch", "names no commit")])
def test_a_champion_that_cannot_be_had_blocks(repo: tuple[Path, Run], base: str, why: str) -> None:
    path, run = repo
    result = run("retrain", "compare", "--base", base, check=False)
    assert result.returncode == 3
    made = decision(path)
    assert made["promote"] is False and why in made["reasons"][0]  # type: ignore[index]


def test_a_degraded_challenger_is_blocked_and_the_report_says_why(repo: tuple[Path, Run]) -> None:
    path, run = repo
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["train"]["hyperparameters"]["hist_gradient_boosting"]["max_iter"] = 3
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run("dvc", "repro")
    result = run("retrain", "compare", "--base", "main", check=False)
    assert result.returncode == 3, result.stderr
    made = decision(path)
    assert made["promote"] is False and str(made["reasons"][0]).startswith("roc_auc")  # type: ignore[index]
    assert made["comparison"]["roc_auc"]["ci_high"] < 0  # type: ignore[index]

    shown = run("retrain", "report", "--base", "main", GITHUB_EVENT_NAME="workflow_dispatch", RETRAIN_REASON="test")
    assert shown.stdout.startswith("BLOCK: roc_auc")
    text = (path / "reports/report.md").read_text()
    assert text.startswith("## ❌ Block: roc_auc")
    assert "manual dispatch: test" in text
    assert "`train.hyperparameters.hist_gradient_boosting.max_iter` | `300` | `3`" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(links) == ["by_period.png", "calibration.png", "confusion.png", "drift.png", "pr.png", "roc.png"]
    assert "<summary>Drift" in text and "temp" in text
    for link in links:
        assert (path / "reports" / link).read_bytes()[:4] == b"\x89PNG"


def test_the_registry_alias_challenger_follows_the_last_comparison(repo: tuple[Path, Run]) -> None:
    path, _ = repo
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{path.parent / 'home' / 'mlflow.db'}")
    version = client.get_model_version_by_alias("flight-delays", "challenger")
    assert version.tags["model_md5"] == files.md5(path / "models/model.skops")


def test_the_gate_rules_of_the_base_judge_a_pr_that_changes_them(repo: tuple[Path, Run]) -> None:
    """A PR may propose new rules; they judge only after merge (and a PR cannot switch the floors off)."""
    path, run = repo
    run("git", "checkout", "-q", "--", "dvc.lock", "params.yaml")
    run("dvc", "checkout", "--force", "--quiet")  # main's model, whatever an earlier test left
    original = (path / "params.yaml").read_text()
    try:
        run("retrain", "set-params", "gate.floors.roc_auc=0.99")  # stricter here: main's rules still promote
        assert run("retrain", "compare", "--base", "main", check=False).returncode == 0
        assert decision(path)["gate_changed"] is True
        run("retrain", "report", "--base", "main")
        assert "Gate rules changed in this PR" in (path / "reports/report.md").read_text()

        run("git", "checkout", "-q", "-b", "strict")
        run("git", "commit", "-qam", "a stricter gate")
        run("retrain", "set-params", "gate.floors.roc_auc=0.5")  # looser here: the base's strict rule blocks
        result = run("retrain", "compare", "--base", "strict", check=False)
        assert result.returncode == 3 and "< floor 0.99" in decision(path)["reasons"][0]  # type: ignore[index]

        refused = run("retrain", "set-params", "gate.floors={}", check=False)
        assert refused.returncode == 2 and "floors must keep pr_auc, roc_auc" in refused.stderr
        infinite = run("retrain", "set-params", "gate.min_delta=-.inf", check=False)
        assert infinite.returncode == 2 and "gate.min_delta" in infinite.stderr
    finally:
        run("git", "checkout", "-q", "--", "params.yaml")
        run("git", "checkout", "-q", "main")
        (path / "params.yaml").write_text(original)


def test_base_rules_are_read_even_when_the_rest_of_the_base_params_changed_shape(repo: tuple[Path, Run]) -> None:
    """Only the base's `gate` and `paths.model` are read: a base whose params.yaml has another shape still judges
    with its rules, and a base whose gate does not load blocks (the PR's own rules never judge it)."""
    path, run = repo
    run("git", "checkout", "-q", "--", "dvc.lock", "params.yaml")
    run("dvc", "checkout", "--force", "--quiet")
    original = (path / "params.yaml").read_text()
    raw = yaml.safe_load(original)
    try:
        for branch, gate in (("reshaped", raw["gate"] | {"floors": {"roc_auc": 0.99, "pr_auc": 0}}), ("no-floors", {})):
            run("git", "checkout", "-q", "-b", branch, "main")
            (path / "params.yaml").write_text(yaml.safe_dump(raw | {"gate": gate, "a_section_of_tomorrow": {"x": 1}}))
            run("git", "commit", "-qam", f"params of another shape ({branch})")
            run("git", "checkout", "-q", "main")
            result = run("retrain", "compare", "--base", branch, check=False)
            assert result.returncode == 3, result.stderr
        assert decision(path)["summary"] == "gate rules unavailable"
        assert "the gate rules in params.yaml at no-floors do not load" in decision(path)["reasons"][0]  # type: ignore[index]
        run("retrain", "compare", "--base", "reshaped", check=False)
        assert "< floor 0.99" in decision(path)["reasons"][0]  # type: ignore[index]
    finally:
        run("git", "checkout", "-q", "main")
        (path / "params.yaml").write_text(original)
