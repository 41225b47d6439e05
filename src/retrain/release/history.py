"""`retrain history`: which model `main` named when, from git alone (the audit trail MLflow's registry lacks).

Every commit on a ref that changed the model's md5 in dvc.lock is a promotion (a merge) or a rollback (a revert):
its date, author, model md5, the metrics and the retrain's cost committed with it, and the pull request named in
its message.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from retrain.io import vcs

PULL_REQUEST = re.compile(r"(?:Merge pull request #|\(#)(\d+)")


def history(root: Path, ref: str, model: Path, metrics: Path, cost: Path) -> list[dict[str, Any]]:
    """Newest first: one row per commit on `ref` whose dvc.lock names a different model than its parent's."""
    rows: list[dict[str, Any]] = []
    previous: str | None = None
    for commit, date, author, subject in reversed(vcs.log(root, ref, "dvc.lock")):
        md5 = vcs.lock_md5(vcs.show(root, commit, "dvc.lock"), model)
        if md5 is None or md5 == previous:
            continue
        previous = md5
        scores = json.loads(vcs.show(root, commit, metrics) or "{}")
        spent = json.loads(vcs.show(root, commit, cost) or "{}")  # committed by the retrain PR that made the model
        number = PULL_REQUEST.search(subject)
        rows.append(
            {
                "commit": commit,
                "date": date,
                "author": author,
                "model_md5": md5,
                "roc_auc": scores.get("roc_auc"),
                "pr_auc": scores.get("pr_auc"),
                "cost_usd": spent.get("estimate_usd"),
                "cost_minutes": spent.get("minutes_billed"),
                "pull_request": int(number[1]) if number else None,
                "subject": subject,
                "revert": subject.startswith("Revert"),
            }
        )
    return rows[::-1]


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown, newest first."""
    lines = ["| since | model | ROC AUC | retrain cost | commit | PR | change |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        auc = f"{row['roc_auc']:.4f}" if row["roc_auc"] is not None else "-"
        pr = f"#{row['pull_request']}" if row["pull_request"] else "-"
        spent = f"${row['cost_usd']:.4f} ({row['cost_minutes']} min)" if row.get("cost_usd") is not None else "-"
        commit = f"`{row['commit'][:8]}`"
        cells = [row["date"][:19], f"`{row['model_md5'][:8]}`", auc, spent, commit, pr, row["subject"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
