"""`engine: dask` on a real cluster on loopback (a scheduler and two single-threaded workers, separate processes that
import the synthetic domain): the contract's reports, the validated table and the windows are those of the local
engine, whatever the partitions."""

from __future__ import annotations

import dataclasses
import importlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from retrain.domain import Domain
from retrain.errors import BadInput
from retrain.io import cluster, files, modelfile
from retrain.params import Params, Paths
from retrain.pipeline import featurize, partitioned, train, validate
from retrain.serving.scorer import COMPILED_ROWS, FLOAT32_TOLERANCE, Scorer
from tests.machinery.test_validate import BAD
from tests.support import ROOT, DaskCluster, dask_cluster
from tests.synthetic import data

DAY = "2024-03-05"


@pytest.fixture(scope="module")
def dask(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    with dask_cluster(tmp_path_factory.mktemp("dask")) as started:
        yield started


@pytest.fixture
def on_cluster(dask: DaskCluster, monkeypatch: pytest.MonkeyPatch) -> DaskCluster:
    monkeypatch.setenv(cluster.SCHEDULER, dask.address)
    return dask


def _landing(folder: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        files.write_frame(frame, folder / f"{name}.parquet")
    return sorted(folder.glob("*.parquet"))


def test_every_bad_batch_is_reported_as_by_the_local_engine(
    on_cluster: DaskCluster, tmp_path: Path, synthetic_params: Params, synthetic: Domain
) -> None:
    """Each contract case the validate tests cover, as a landing file checked by the workers in ranges of 64 rows
    (a duplicate key split across two of them among them): the same violations, examples and summary as pandas."""
    day = data.batch(DAY)
    paths = [_landing(tmp_path / kind.replace(" ", "-"), {DAY: BAD[kind][0](day.copy())})[0] for kind in sorted(BAD)]
    rules = synthetic_params.validate_
    local = [validate.check_batch(str(path), files.read_frame(path), rules, synthetic) for path in paths]
    with cluster.connect():
        remote = validate.check_batches_on_cluster(paths, rules, synthetic, partition_rows=64)
    for kind, path, expected, found in zip(sorted(BAD), paths, local, remote, strict=True):
        assert expected[0], kind  # the case breaks a rule
        assert found == expected, kind
        assert found[0][0].file == str(path)


def test_the_stages_on_the_cluster_write_the_local_engines_files(
    on_cluster: DaskCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic_params: Params
) -> None:
    """Ten days of tickets in parts of 97 rows, each engine in a copy of its own (paths relative to it, as in a
    repository; the workers run elsewhere), every stage: the validated table, train and test (parts, bytes), the
    reports, metrics, slices, curves and the model are the local engine's, and a second run on the cluster writes
    them again."""
    outputs: dict[str, dict[str, str]] = {}
    for engine in ("local", "dask", "dask"):
        root = tmp_path / engine
        root.mkdir(exist_ok=True)
        monkeypatch.chdir(root)
        paths = synthetic_params.paths
        _landing(paths.landing, {day: data.batch(day) for day in data.days("2024-03-01", 10)})
        params = synthetic_params.model_copy(update={"engine": engine, "partition_rows": 97})
        for stage in STAGES:
            importlib.import_module(f"retrain.pipeline.{stage}").run(params, root)
        found = {str(path): files.md5(path) for path in _written(paths)}
        assert outputs.setdefault(engine, found) == found  # a second run: the same files
        assert len(files.parts(paths.train)) > 3 and len(files.parts(paths.test)) > 1
    assert outputs["dask"] == outputs["local"]


STAGES = ("validate", "featurize", "drift", "tune", "train", "evaluate")


def _written(paths: Paths) -> list[Path]:
    single = [paths.validation, paths.data_metrics, paths.drift, paths.model, paths.metrics, paths.slices]
    return [paths.validated, paths.train, paths.test, *single, *sorted(paths.plots.glob("*.json"))]


def test_a_worker_killed_during_featurize_costs_only_its_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic_params: Params
) -> None:
    """SIGKILL to one of two workers once featurize has written its first part: the scheduler runs the lost tasks
    again on the other (from their inputs: the reads are tasks too), and the files are those of the local engine."""
    monkeypatch.chdir(tmp_path)
    paths = synthetic_params.paths
    _landing(paths.landing, {day: data.batch(day) for day in data.days("2024-03-01", 30)})
    params = synthetic_params.model_copy(update={"partition_rows": 97})
    validate.run(params, tmp_path)
    featurize.run(params, tmp_path)
    expected = {path: files.md5(path) for path in (paths.train, paths.test, paths.data_metrics)}
    with dask_cluster(tmp_path / "dask") as started:
        monkeypatch.setenv(cluster.SCHEDULER, started.address)
        staged, seen = paths.train.with_name(paths.train.name + ".tmp"), []

        def kill_once_a_part_is_written() -> None:
            while not list(staged.glob("part-*")):
                time.sleep(0.005)
            seen.append(len(list(staged.glob("part-*"))))
            started.workers[0].send_signal(signal.SIGKILL)

        killer = threading.Thread(target=kill_once_a_part_is_written, daemon=True)
        killer.start()
        featurize.run(params.model_copy(update={"engine": "dask"}), tmp_path)
        killer.join(timeout=10)
        assert started.workers[0].wait(timeout=10) == -signal.SIGKILL
    assert seen and seen[0] < len(files.parts(paths.train))  # killed before featurize had written its parts
    assert {path: files.md5(path) for path in expected} == expected


def test_the_sort_on_the_cluster_is_pandas_stable_sort(on_cluster: DaskCluster, tmp_path: Path) -> None:
    """Two files, unsorted, read in ranges of 50 rows: one time shared by more rows than a range, and the same (time,
    key) in both files (told apart by their payload). The sorted buckets, concatenated, are pandas' stable sort of
    the files' concatenation, their lengths as announced; and the bucket files are the caller's to remove."""
    rng = np.random.default_rng(3)
    times = pd.date_range("2024-03-01", periods=40, freq="h", tz="Asia/Tokyo")
    tables = [
        pd.DataFrame(
            {
                "when": pd.Series(times[rng.integers(0, 40, 300)]).mask(rng.random(300) < 0.3, times[7]),
                "key": pd.array([f"k{n % 25}" for n in rng.permutation(300)], dtype="str"),
                "payload": np.arange(300) + 1000 * file,
            }
        )
        for file in range(2)
    ]
    paths = _landing(tmp_path / "landing", {"a": tables[0], "b": tables[1]})
    ranges = [rows for path in paths for rows in files.row_ranges(path, 50)]
    expected = pd.concat(tables, ignore_index=True).sort_values(["when", "key"], kind="stable")
    with cluster.connect():
        buckets, lengths = partitioned.sort(ranges, ["when", "key"], tmp_path / "buckets")
        (found,) = partitioned.compute(buckets)
    assert len(found) > 3 and [len(bucket) for bucket in found] == lengths
    assert max(lengths) > 50  # the shared time's rows stay in one bucket
    sorted_rows = pd.concat(found, ignore_index=True)
    pd.testing.assert_frame_equal(sorted_rows, expected.reset_index(drop=True))
    assert (tmp_path / "buckets").is_dir()
    empty = _landing(tmp_path / "empty", {"a": tables[0].iloc[0:0]})
    with cluster.connect():
        buckets, lengths = partitioned.sort(files.row_ranges(empty[0], 50), ["when", "key"], tmp_path / "none")
        (found,) = partitioned.compute(buckets)
    assert lengths == [0] and list(found[0].columns) == ["when", "key", "payload"]


def test_a_join_that_changes_a_partitions_rows_is_refused_and_nothing_written(
    on_cluster: DaskCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    synthetic_params: Params,
    synthetic: Domain,
) -> None:
    """featurize on the cluster cuts the windows by the rows it counted first: a domain whose join drops a row breaks
    that, and is a clear error naming the rule; the windows of the last run stay."""
    monkeypatch.chdir(tmp_path)
    paths = synthetic_params.paths
    _landing(paths.landing, {day: data.batch(day) for day in data.days("2024-03-01", 4)})
    params = synthetic_params.model_copy(update={"engine": "dask", "partition_rows": 97})
    validate.run(params, tmp_path)
    featurize.run(params, tmp_path)
    before = {path: files.md5(path) for path in (paths.train, paths.test, paths.data_metrics)}
    dropping = dataclasses.replace(synthetic, join=lambda rows, sides: rows.iloc[1:])
    monkeypatch.setattr(featurize, "load_domain", lambda params: dropping)
    with pytest.raises(BadInput, match="the domain's join changed the number of rows of a partition"):
        featurize.run(params, tmp_path)
    assert {path: files.md5(path) for path in before} == before
    assert not list(paths.train.parent.glob("*.tmp"))


def test_xgboost_fitted_on_the_cluster_is_the_single_process_fit_within_0_002(
    on_cluster: DaskCluster, tmp_path: Path, synthetic_params: Params, synthetic: Domain
) -> None:
    """Ten days of 4,000 tickets, the training window in parts of 2,000 rows, fitted by xgboost.dask on two workers:
    ROC AUC within 0.002 of the same Pipeline fitted in one process, the same encoding, the same bytes from a second
    fit; the skops file loads and scores identically, and Treelite's compiled trees score the test window as the
    Pipeline does."""
    batches = {day: data.batch(day, rows=4000) for day in data.days("2024-03-01", 10)}
    split = featurize.featurize(validate.combine(batches, synthetic), {}, synthetic_params.featurize, synthetic)
    settings = synthetic_params.train.model_copy(update={"estimator": "xgboost"})
    files.write_parts(split.train, tmp_path / "train", 2000)
    ranges = files.row_ranges(tmp_path / "train", 2000)
    with cluster.connect():
        fitted = [train.fit_on_cluster(ranges, settings, synthetic) for _ in range(2)]
    single = train.train(split.train, settings, synthetic)
    rows, y = split.test[list(synthetic.features)], split.test[synthetic.target].to_numpy()
    pd.testing.assert_frame_equal(fitted[0][:-1].transform(rows), single[:-1].transform(rows))
    auc = [roc_auc_score(y, model.predict_proba(rows)[:, 1]) for model in (fitted[0], single)]
    assert abs(auc[0] - auc[1]) <= 0.002 and auc[0] > 0.7, auc
    for number, model in enumerate(fitted):
        modelfile.save(model, tmp_path / f"{number}.skops")
    assert files.md5(tmp_path / "0.skops") == files.md5(tmp_path / "1.skops")
    loaded = modelfile.load(tmp_path / "0.skops")
    probabilities = loaded.predict_proba(rows)[:, 1]
    assert np.array_equal(probabilities, fitted[0].predict_proba(rows)[:, 1])
    scorer = Scorer(loaded, rows)
    assert scorer.compiled
    compiled = np.concatenate([scorer(rows.iloc[i : i + COMPILED_ROWS]) for i in range(0, len(rows), COMPILED_ROWS)])
    assert np.max(np.abs(compiled - probabilities)) <= FLOAT32_TOLERANCE


def test_a_cluster_whose_workers_run_other_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker from an image of another commit (here: the package with one comment added) would write another
    commit's outputs: connecting names it, before any stage runs."""
    other = tmp_path / "other"
    shutil.copytree(ROOT / "src/retrain", other / "retrain", ignore=shutil.ignore_patterns("__pycache__"))
    with (other / "retrain/errors.py").open("a") as source:
        source.write("# another commit\n")
    started = DaskCluster(tmp_path / "dask")
    try:
        started.env["PYTHONPATH"] = f"{other}{os.pathsep}{ROOT}"
        started.add_worker()
        started.wait_for_workers(1)
        monkeypatch.setenv(cluster.SCHEDULER, started.address)
        refused = pytest.raises(cluster.ClusterError, match=r"1 worker\(s\) run another version of the retrain package")
        with refused, cluster.connect():
            pass
    finally:
        started.stop()
