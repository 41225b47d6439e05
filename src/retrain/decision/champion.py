"""The champion: the model that dvc.lock names at the base ref, read through git objects and DVC (never a checkout)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrain.io import modelfile, vcs
from retrain.params import Params


@dataclass(frozen=True)
class Champion:
    """What the base names: its commit, the model's md5, the model itself, and why it is missing if it is."""

    commit: str | None
    md5: str | None
    model: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
    locked_in: str | None = None
    problem: str | None = None


def fetch(params: Params, root: Path, base: str, challenger_md5: str, challenger: Any) -> Champion:
    """The champion at `base` (the challenger itself when their md5s agree; nothing when base has no model yet)."""
    path = params.paths.model
    commit = vcs.commit(root, base)
    if commit is None:
        problem = f"base {base!r} names no commit here (a shallow CI checkout needs `git fetch origin {base}`)"
        return Champion(None, None, problem=problem)
    md5 = vcs.lock_md5(vcs.show(root, base, "dvc.lock"), path)
    meta = json.loads(vcs.show(root, base, params.paths.model_meta) or "{}")
    locked_in = vcs.last_change(root, base, "dvc.lock")
    if md5 is None:
        return Champion(commit, None)  # the first model
    if md5 == challenger_md5:
        return Champion(commit, md5, challenger, meta, locked_in)
    with tempfile.TemporaryDirectory() as scratch:
        try:
            vcs.fetch_output(root, base, path, md5, Path(scratch) / "champion.skops")
            return Champion(commit, md5, modelfile.load(Path(scratch) / "champion.skops"), meta, locked_in)
        except Exception as error:  # DVC raises many kinds; the reader needs the last line and what to do
            detail = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            if not vcs.dvc_remotes(root):
                detail = "it is not in the local DVC cache and no DVC remote is configured"
            problem = (
                f"the champion {md5} that dvc.lock names at {base} could not be fetched ({detail}); "
                "configure the DVC remote it was pushed to, or `dvc pull` it"
            )
            return Champion(commit, md5, meta=meta, locked_in=locked_in, problem=problem)
