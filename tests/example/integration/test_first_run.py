"""A first run: no DVC remote, or one whose bucket does not hold the data or the champion yet. `make data` pulls what
the remote holds, regenerates the bundled rest and pushes it; `retrain compare` rebuilds a champion that no cache or
remote holds from the base's own code, params and data, and accepts it only when its md5 is the one dvc.lock names."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from retrain.decision import champion as champions
from retrain.io import files, vcs
from retrain.params import load
from tests.support import VENV, Run, environment

pytestmark = pytest.mark.slow

POINTERS = [*(f"data/landing/2013-{month:02d}.parquet.dvc" for month in range(1, 7)), "data/side/weather.parquet.dvc"]


def remote_holds(remote: Path, md5: str) -> bool:
    return (remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def forget_data(path: Path) -> None:
    """As on a fresh runner: no data in the workspace, nothing in the DVC cache."""
    for pointer in POINTERS:
        (path / pointer).with_suffix("").unlink(missing_ok=True)
    shutil.rmtree(path / ".dvc/cache", ignore_errors=True)


@pytest.fixture(scope="module")
def fresh(make_repo: Callable[[], tuple[Path, Run]]) -> tuple[Path, Run]:
    """A copy of the repository as a fresh runner checks it out: pointers, no data, no cache."""
    return make_repo()


def make_data(run: Run, **env: str) -> object:
    return run("make", "--no-print-directory", "data", check=False, VENV=str(VENV), LOCKS="", **env)


def test_make_data_with_an_empty_bucket_pulls_what_it_holds_and_bootstraps_and_pushes_the_rest(
    fresh: tuple[Path, Run], tmp_path: Path
) -> None:
    path, run = fresh
    remote = tmp_path / "bucket"
    run("retrain", "bootstrap")  # a machine that has the data pushes two batches; the bucket lacks the rest
    run("make", "--no-print-directory", "ci-remote", VENV=str(VENV), LOCKS="", DVC_REMOTE_URL=str(remote))  # as CI
    run("dvc", "push", "--quiet", POINTERS[0], POINTERS[1])
    forget_data(path)

    result = make_data(run)
    assert result.returncode == 0, result.stdout + result.stderr  # type: ignore[attr-defined]
    for pointer in POINTERS:
        md5 = vcs.pointer_md5(path / pointer)
        assert files.md5((path / pointer).with_suffix("")) == md5, pointer
        assert remote_holds(remote, md5), pointer
    said = result.stdout + result.stderr  # type: ignore[attr-defined]
    assert "bootstrap: 5 file(s) regenerated and pushed to the DVC remote 'ci': " in said
    for pointer in POINTERS[2:]:
        assert pointer.removesuffix(".dvc") in said
    assert "2013-01.parquet," not in said and "2013-02.parquet," not in said  # pulled, not regenerated
    assert "changed" not in run("dvc", "status", *POINTERS).stdout


def test_make_data_does_not_push_when_told_not_to(fresh: tuple[Path, Run], tmp_path: Path) -> None:
    """A pull request's job has read-only credentials (DVC_PUSH=false): it regenerates, and pushes nothing."""
    path, run = fresh
    remote = tmp_path / "bucket"
    run("dvc", "remote", "add", "--local", "--default", "--force", "ci", str(remote))
    forget_data(path)
    result = make_data(run, DVC_PUSH="false")
    assert result.returncode == 0, result.stdout + result.stderr  # type: ignore[attr-defined]
    assert "not pushed: DVC_PUSH=false" in result.stderr  # type: ignore[attr-defined]
    assert not remote.exists() or not any(remote.rglob("*"))
    assert all((path / pointer).with_suffix("").exists() for pointer in POINTERS)


def test_make_data_names_the_batches_it_can_neither_pull_nor_regenerate(
    fresh: tuple[Path, Run], tmp_path: Path
) -> None:
    """A team's own batch that was never pushed: the error names it and the way out."""
    path, run = fresh
    remote = tmp_path / "bucket"
    run("dvc", "remote", "add", "--local", "--default", "--force", "ci", str(remote))
    forget_data(path)
    ours = path / "data/landing/2013-07.parquet.dvc"
    january = (path / POINTERS[0]).read_text()
    ours.write_text(january.replace("2013-01", "2013-07").replace(vcs.pointer_md5(path / POINTERS[0]), "beef" * 8))
    try:
        result = make_data(run)
    finally:
        ours.unlink()
    assert result.returncode != 0  # type: ignore[attr-defined]
    said = result.stderr  # type: ignore[attr-defined]
    assert "data/landing/2013-07.parquet" in said and "push" in said and "machine that has" in said
    assert "Traceback" not in said
    assert remote_holds(remote, vcs.pointer_md5(path / POINTERS[0]))  # what it could regenerate is pushed


def test_a_remote_that_fails_fails_make_data_with_dvcs_message(fresh: tuple[Path, Run], tmp_path: Path) -> None:
    """Not a missing file: the remote cannot be read at all. Nothing is regenerated behind DVC's error."""
    path, run = fresh
    broken = tmp_path / "not-a-folder"
    broken.write_text("a file where the bucket should be")
    run("dvc", "remote", "add", "--local", "--default", "--force", "ci", str(broken))
    forget_data(path)
    result = make_data(run)
    assert result.returncode != 0  # type: ignore[attr-defined]
    assert "Not a directory" in result.stderr  # type: ignore[attr-defined]
    assert "regenerated" not in result.stdout + result.stderr  # type: ignore[attr-defined]
    assert not any((path / pointer).with_suffix("").exists() for pointer in POINTERS)


# --- the champion ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def first_pr(make_repo: Callable[[], tuple[Path, Run]]) -> tuple[Path, Run, str]:
    """A fresh runner's first PR that changes the model, with no DVC remote: main's dvc.lock names a model (trained
    here on two bundled months, to keep the test short) that no cache holds; the PR trains a smaller one. Main's
    model md5 with it."""
    path, run = make_repo()
    run("git", "rm", "-q", *POINTERS[2:6])
    edit_params(path, max_iter=30)
    run("retrain", "bootstrap")
    run("dvc", "repro", "--quiet", "train")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "main: a model of two months")
    champion = vcs.lock_md5((path / "dvc.lock").read_text(), "models/model.skops")
    assert champion is not None
    forget_data(path)  # a fresh runner: its `make data` regenerates the batches, the DVC cache holds nothing else
    run("retrain", "bootstrap")
    run("git", "checkout", "-q", "-b", "pr")
    edit_params(path, max_iter=20)
    run("dvc", "repro", "--quiet", "train")
    run("git", "commit", "-qam", "a smaller model")
    return path, run, champion


def edit_params(path: Path, max_iter: int) -> None:
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["train"]["hyperparameters"]["hist_gradient_boosting"]["max_iter"] = max_iter
    params["compare"]["bootstrap_resamples"] = 200
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def decision(path: Path) -> dict[str, Any]:
    return dict(json.loads((path / "reports/decision.json").read_text()))


def forget(path: Path, md5: str) -> None:
    (path / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).unlink(missing_ok=True)


@pytest.fixture
def fetch(first_pr: tuple[Path, Run, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """champion.fetch in this process (no `retrain compare` around it: a rebuild is what costs), in the test
    repository's environment."""
    path, _, _ = first_pr
    for name, value in environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    params = load(path / "params.yaml")

    def fetch_(base: str, push: bool = True) -> champions.Champion:
        return champions.fetch(params, path, base, files.md5(path / "models/model.skops"), None, push)

    return fetch_


def test_compare_rebuilds_a_champion_that_no_cache_or_remote_holds(first_pr: tuple[Path, Run, str]) -> None:
    path, run, champion = first_pr
    result = run("retrain", "compare", "--base", "main", check=False)
    made = decision(path)
    assert made["summary"] != "champion unavailable", made["reasons"]
    assert made["champion"]["model_md5"] == champion and "champion" in made["metrics"]
    main = run("git", "rev-parse", "main").stdout.strip()
    assert any(f"rebuilt from main at {main[:8]}" in check["detail"] for check in made["checks"]), made["checks"]
    assert f"rebuilt from main at {main[:8]}" in result.stderr and "no DVC remote" in result.stderr
    assert run("git", "worktree", "list", "--porcelain").stdout.count("worktree ") == 1  # the checkout is gone
    run("retrain", "report", "--base", "main")
    assert f"rebuilt from main at {main[:8]}" in (path / "reports/report.md").read_text()


def test_a_rebuilt_champion_is_pushed_to_a_remote_that_lacked_it_and_fetched_from_it_next_time(
    first_pr: tuple[Path, Run, str], fetch: Callable[..., champions.Champion], tmp_path: Path
) -> None:
    path, run, champion = first_pr
    remote = tmp_path / "bucket"
    run("dvc", "remote", "add", "--local", "--default", "ci", str(remote))
    try:
        forget(path, champion)
        kept = fetch("main", push=False)  # a pull request's job: read-only credentials
        assert kept.md5 == champion and kept.model is not None and kept.problem is None
        assert kept.rebuilt is not None and "not pushed: DVC_PUSH=false" in kept.rebuilt
        assert not remote_holds(remote, champion)

        forget(path, champion)
        rebuilt = fetch("main")
        assert rebuilt.rebuilt is not None and "pushed to the DVC remote 'ci'" in rebuilt.rebuilt
        assert remote_holds(remote, champion)

        forget(path, champion)
        fetched = fetch("main")  # a retrain of the base costs minutes: never when the champion can be fetched
        assert fetched.rebuilt is None and fetched.problem is None and fetched.md5 == champion
    finally:
        run("dvc", "remote", "remove", "--local", "ci")


def test_a_champion_that_cannot_be_rebuilt_blocks_naming_the_way_out(
    first_pr: tuple[Path, Run, str], fetch: Callable[..., champions.Champion]
) -> None:
    """The base's dvc.lock names a model its code, params and data do not give (made elsewhere, never pushed)."""
    path, run, champion = first_pr
    run("git", "checkout", "-q", "-b", "elsewhere", "main")
    lock = path / "dvc.lock"
    lock.write_text(lock.read_text().replace(champion, "beef" * 8))
    run("git", "commit", "-qam", "a model made elsewhere")
    run("git", "checkout", "-q", "pr")
    got = fetch("elsewhere")
    assert got.model is None and got.problem is not None
    assert "could not be fetched" in got.problem and "rebuilt from elsewhere at" in got.problem
    assert f"it has md5 {champion}, not {'beef' * 8}" in got.problem
    assert "DVC_REMOTE_URL" in got.problem and "make retrain" in got.problem and "dvc push" in got.problem
