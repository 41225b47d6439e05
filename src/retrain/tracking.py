"""MLflow tracking: the only module that imports mlflow.

The store is `MLFLOW_TRACKING_URI` when set, else `sqlite:///mlflow.db` at the repository root (in GitHub Actions a
file that goes with the runner: registering there says so in the job summary). Every model that
`train` fits is logged once, by `evaluate` (which always follows it): one run with the params, the test metrics, the
plots and the model. Logging once saves starting MLflow twice (about 2.5 s).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import warnings
from collections.abc import Iterable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from retrain.errors import BadInput
from retrain.io import files, http, vcs
from retrain.io.modelfile import TRUSTED_TYPES
from retrain.params import Params
from retrain.results import Tuning

log = logging.getLogger(__name__)

TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


class TrackingError(BadInput):
    """The tracking store cannot be used; the message names the URI and how to change it."""


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root / 'mlflow.db').resolve()}"


def _check_reachable(uri: str) -> None:
    if not uri.startswith(("http://", "https://")):
        return
    status, answer = http.request(f"{uri.rstrip('/')}/health")
    if status != 200:
        raise TrackingError(
            f"MLflow tracking server {uri} cannot be reached ({status or answer.decode(errors='replace')}); "
            "set MLFLOW_TRACKING_URI to a running server, or unset it to use sqlite:///mlflow.db"
        )


@contextlib.contextmanager
def _creating(uri: str) -> Iterator[None]:
    """For a SQLite store, one process at a time (processes opening a new store at once race to migrate it)."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    lock = Path(uri.removeprefix("sqlite:///") + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _start(root: Path, experiment: str) -> Any:
    """Point mlflow at the store and the experiment; return the mlflow module."""
    for key, value in TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)
    uri = tracking_uri(root)
    _check_reachable(uri)
    import mlflow

    mlflow.set_tracking_uri(uri)
    with _creating(uri):
        if mlflow.get_experiment_by_name(experiment) is None:  # the first access creates a new store's tables
            location = (root / "mlartifacts").resolve().as_uri() if uri.startswith("sqlite:") else None
            mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment)
    return mlflow


def _requirements() -> list[str]:
    return [f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "pandas", "numpy", "scipy")]


def log_run(
    root: Path,
    experiment: str,
    model: Any,
    example: pd.DataFrame,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts: Iterable[Path] = (),
) -> str:
    """Log one trained and evaluated Pipeline: params, test metrics, tags, plots, and the model with its signature
    and input example. Returns the run id."""
    mlflow = _start(root, experiment)
    from mlflow.models import infer_signature

    with warnings.catch_warnings():  # integer columns are never missing: the contract says so
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        signature = infer_signature(example, model.predict_proba(example)[:, 1])
    with mlflow.start_run(run_name=f"model-{tags['model_md5'][:8]}") as run:
        mlflow.log_params(files.flatten(params))
        mlflow.log_metrics({f"test_{k}": float(v) for k, v in metrics.items()})
        mlflow.set_tags(tags | {"dvc_stage": "train+evaluate"})
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path="figures")
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=example,
            serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES,
            pip_requirements=_requirements(),
        )
        mlflow.set_tag("model_uri", info.model_uri)
        return str(run.info.run_id)


def log_model(
    params: Params, root: Path, model: Any, rows: pd.DataFrame, metrics: dict[str, float], figures: list[Path]
) -> str:
    """Log the working tree's model (with a few of `rows` as its input example) and its metrics; the run id.
    The commit is a tag here, never part of an output: the same training in a new commit gives the same files."""
    meta = files.read_json(params.paths.model_meta)
    return log_run(
        root,
        params.tracking.experiment,
        model,
        rows[list(model.feature_names_in_)].head(5),
        {"train": params.train.model_dump(), "featurize": params.featurize.model_dump()},
        metrics,
        {
            "model_md5": files.md5(params.paths.model),
            "data_md5": meta["data_md5"],
            "git_commit": vcs.commit(root) or "unknown",
        },
        figures,
    )


def log_study(root: Path, experiment: str, best: Tuning, trials: list[dict[str, Any]]) -> str:
    """A parent run for the tuning study (best params and value) with one nested run per trial, once per study
    (every runner of a shared study calls this). Returns its id."""
    mlflow = _start(root, experiment)
    with _creating(tracking_uri(root)):  # runners that finish together: only one logs the study
        logged = mlflow.search_runs(filter_string=f"tags.study = '{best.study}' and tags.dvc_stage = 'tune'")
        if not logged.empty:
            return str(logged["run_id"].iloc[0])
        with mlflow.start_run(run_name=f"tune-{best.study}") as parent:
            mlflow.log_params({f"best.{k}": v for k, v in best.hyperparameters.items()})
            mlflow.log_metrics({f"best_{best.metric}": best.best_value or 0.0, "trials": float(len(trials))})
            mlflow.set_tags({"dvc_stage": "tune", "study": str(best.study), "sampler": str(best.sampler)})
            for trial in trials:
                with mlflow.start_run(run_name=f"trial-{trial['number']}", nested=True):
                    mlflow.log_params(trial["params"])
                    if trial["value"] is not None:
                        mlflow.log_metric(str(best.metric), trial["value"])
                    tags = {"state": trial["state"], "study": str(best.study), "trial": str(trial["number"])}
                    mlflow.set_tags(tags)
            return str(parent.info.run_id)


def find_run(root: Path, experiment: str, model_md5: str) -> str | None:
    """The newest run that logged the model with this md5 (and the model itself), if any."""
    mlflow = _start(root, experiment)
    runs = mlflow.search_runs(filter_string=f"tags.model_md5 = '{model_md5}'", order_by=["start_time DESC"])
    if runs.empty or "tags.model_uri" not in runs:
        return None
    logged = runs[runs["tags.model_uri"].notna()]
    return None if logged.empty else str(logged["run_id"].iloc[0])


def set_alias(
    root: Path, experiment: str, name: str, run_id: str, model_md5: str, alias: str, tags: dict[str, str] | None = None
) -> int:
    """Point a registry alias at the model of a run, registering it as a new version only if it is not one yet;
    `tags` are recorded on that version (for a deployment: who, when, which commit)."""
    mlflow = _start(root, experiment)
    client = mlflow.MlflowClient()
    existing = []
    if client.search_registered_models(filter_string=f"name = '{name}'"):
        existing = [v for v in client.search_model_versions(f"name = '{name}'") if v.tags.get("model_md5") == model_md5]
    if existing:
        version = int(existing[0].version)
    else:
        model_uri = client.get_run(run_id).data.tags["model_uri"]
        version = int(mlflow.register_model(model_uri, name, tags={"model_md5": model_md5}).version)
    client.set_registered_model_alias(name, alias, str(version))
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, str(version), key, value)
    log.info("registry: %s version %d (model %s) is now @%s", name, version, model_md5[:8], alias)
    if os.environ.get("GITHUB_ACTIONS") == "true" and not os.environ.get("MLFLOW_TRACKING_URI"):
        warning = (
            f"the MLflow registry is {tracking_uri(root)}, a file on this runner that goes with it: version "
            f"{version} and the alias @{alias} are not kept. Set the variable MLFLOW_TRACKING_URI to a tracking server."
        )
        log.warning("registry: %s", warning)
        files.append_text("GITHUB_STEP_SUMMARY", f"> **Warning:** {warning}\n")
    return version
