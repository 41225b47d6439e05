"""What a retrain cost: wall time, CPU seconds and peak memory per stage as `dvc repro` runs them, the machine it ran
on, and the price of its minutes from the `cost` table in params.yaml.

Each stage that runs writes `<paths.usage>/<stage>.json` (cli/stages.py measures it; `make repro` empties the folder
first, so it holds this repro's stages: a stage DVC found up to date did not run and cost nothing). `retrain report`
sums them here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from retrain.params import Params
from retrain.results import Cost, StageUsage


def machine(env: Mapping[str, str]) -> tuple[str, bool]:
    """The key of the runner in the cost table, and whether it is a spot instance: the cloud machine type of a
    `cml runner launch` (CLOUD, CLOUD_TYPE, CLOUD_SPOT), else `github-hosted` or `self-hosted` from GitHub's
    RUNNER_ENVIRONMENT, else `local`."""
    if env.get("CLOUD"):
        return env.get("CLOUD_TYPE") or "m", env.get("CLOUD_SPOT") == "true"
    return env.get("RUNNER_ENVIRONMENT") or "local", False


def summarize(params: Params, env: Mapping[str, str]) -> Cost:
    """This repro's stages and their price: minutes rounded up as GitHub bills a job (the setup steps around the
    pipeline are not counted), times the machine's price per minute, times `spot_share` on a spot instance."""
    records = sorted(params.paths.usage.glob("*.json"), key=lambda path: path.stat().st_mtime)  # the order they ran
    stages = [StageUsage.model_validate(json.loads(path.read_text())) for path in records]
    wall = sum(stage.wall_seconds for stage in stages)
    name, spot = machine(env)
    price = params.cost.per_minute.get(name)
    minutes = math.ceil(wall / 60)
    estimate = None if price is None else round(minutes * price * (params.cost.spot_share if spot else 1), 4)
    return Cost(
        stages=stages,
        wall_seconds=round(wall, 2),
        cpu_seconds=round(sum(stage.cpu_seconds for stage in stages), 2),
        peak_mib=max((stage.peak_mib for stage in stages), default=0),
        machine=name,
        spot=spot,
        minutes_billed=minutes,
        price_per_minute=price,
        estimate_usd=estimate,
    )


def render(cost: Cost) -> str:
    """Markdown: one row per stage that ran, the totals, and the price estimate."""
    if not cost.stages:
        return "No stage ran: every output was up to date (nothing to pay for)."
    rows = [f"| {s.stage} | {s.wall_seconds:.1f} | {s.cpu_seconds:.1f} | {s.peak_mib:,.0f} |" for s in cost.stages]
    total = f"| **total** | {cost.wall_seconds:.1f} | {cost.cpu_seconds:.1f} | {cost.peak_mib:,.0f} (peak) |"
    table = "\n".join(["| stage | wall s | CPU s | peak MiB |", "|---|---|---|---|", *rows, total])
    where = f"`{cost.machine}`" + (" (spot)" if cost.spot else "")
    if cost.estimate_usd is None:
        price = f"{where} has no price in params.yaml `cost.per_minute`: no estimate."
    else:
        price = (
            f"{cost.minutes_billed} min on {where} at ${cost.price_per_minute}/min"
            + (" x spot share" if cost.spot else "")
            + f" = **${cost.estimate_usd:.4f}** (estimate; the job's setup steps are not counted)."
        )
    return f"{table}\n\n{price}"
