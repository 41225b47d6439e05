"""`retrain promote`: after a good deploy, the MLflow alias `champion` follows dvc.lock (the same registry version
when a revert brings old bytes back), and the deployment (who, when, which commit) is recorded on that version."""

from __future__ import annotations

import datetime
import getpass
import os
from pathlib import Path

from retrain import tracking
from retrain.domain import load_domain
from retrain.io import files, modelfile, vcs
from retrain.params import Params
from retrain.serving.request import records_frame


def promote(params: Params, root: Path) -> str:
    """Move `champion` to the model dvc.lock names; one line saying which version, from which commit, by whom."""
    paths = params.paths
    md5 = modelfile.locked(root, paths.model)
    metrics = files.read_json(paths.metrics)
    run_id = tracking.find_run(root, params.tracking.experiment, md5)
    if run_id is None:  # trained elsewhere (CI) with another tracking store: log it here
        example = records_frame(files.read_json(paths.golden), load_domain(params))
        run_id = tracking.log_model(params, root, modelfile.load(paths.model), example, metrics, [])
    deployment = {
        "deployed_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "deployed_by": os.environ.get("GITHUB_ACTOR") or getpass.getuser(),
        "deployed_commit": vcs.commit(root) or "unknown",
    }
    name = params.tracking.registered_model
    version = tracking.set_alias(root, params.tracking.experiment, name, run_id, md5, "champion", deployment)
    who, when, commit = deployment["deployed_by"], deployment["deployed_at"], deployment["deployed_commit"][:8]
    line = (
        f"Deployed model `{md5}` ({name} version {version}, ROC AUC {metrics['roc_auc']:.4f}) "
        f"from commit `{commit}` by {who} at {when}"
    )
    files.append_text("GITHUB_STEP_SUMMARY", line + "\n")
    return line
