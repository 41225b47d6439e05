"""The champion: the model that dvc.lock names at the base ref, read through git objects and DVC (never a checkout)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrain.decision import rebuild
from retrain.io import modelfile, vcs
from retrain.params import Params


@dataclass(frozen=True)
class Champion:
    """What the base names: its commit, the model's md5, the model itself, and why it is missing if it is (or how
    it was had when it had to be rebuilt)."""

    commit: str | None
    md5: str | None
    model: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
    locked_in: str | None = None
    problem: str | None = None
    rebuilt: str | None = None


def fetch(params: Params, root: Path, base: str, challenger_md5: str, challenger: Any, push: bool = True) -> Champion:
    """The champion at `base` (the challenger itself when their md5s agree; nothing when base has no model yet),
    from the DVC cache or remote, else rebuilt from the commit whose dvc.lock names it (and pushed, if `push`)."""
    path = params.paths.model
    commit = vcs.commit(root, base)
    if commit is None:
        missing = f"base {base!r} names no commit here (a shallow CI checkout needs `git fetch origin {base}`)"
        return Champion(None, None, problem=missing)
    md5 = vcs.lock_md5(vcs.show(root, base, "dvc.lock"), path)
    meta = json.loads(vcs.show(root, base, params.paths.model_meta) or "{}")
    locked_in = vcs.last_change(root, base, "dvc.lock")
    if md5 is None:
        return Champion(commit, None)  # the first model
    if md5 == challenger_md5:
        return Champion(commit, md5, challenger, meta, locked_in)
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "champion.skops"
        rebuilt: str | None = None
        problem: str | None = None
        try:
            vcs.fetch_output(root, base, path, md5, target)
        except vcs.OutputMissing as missing:  # no cache or remote holds it: a first run, or a new bucket
            try:
                rebuilt = rebuild.rebuild(root, base, locked_in or commit, path, md5, target, push)
            except rebuild.RebuildFailed as failed:
                problem = _way_out(base, md5, _detail(root, missing), str(failed))
        except Exception as error:  # DVC raises many kinds; the reader needs the last line and what to do
            problem = _way_out(base, md5, _detail(root, error))
        if problem:
            return Champion(commit, md5, meta=meta, locked_in=locked_in, problem=problem)
        return Champion(commit, md5, modelfile.load(target), meta, locked_in, rebuilt=rebuilt)


def _detail(root: Path, error: Exception) -> str:
    """Why the fetch failed, in one line."""
    if isinstance(error, vcs.OutputMissing) and not vcs.dvc_remotes(root):
        return "it is not in the local DVC cache and no DVC remote is configured"
    return str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__


def _way_out(base: str, md5: str, detail: str, rebuild_failed: str | None = None) -> str:
    """The gate's reason when the champion cannot be had, naming what to do."""
    rebuilt = f" and could not be rebuilt ({rebuild_failed})" if rebuild_failed else ""
    return (
        f"the champion {md5} that dvc.lock names at {base} could not be fetched ({detail}){rebuilt}; "
        "set the repository variable DVC_REMOTE_URL (locally: `dvc remote add -d`) to the remote it was pushed to, "
        f"or push it from the machine that trained it, or run `make retrain` on {base} and `dvc push`"
    )
