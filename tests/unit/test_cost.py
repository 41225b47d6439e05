"""What a retrain cost: the stages' usage summed and priced by the `cost` table of params.yaml."""

from __future__ import annotations

from pathlib import Path

from retrain import cost
from retrain.params import Params
from retrain.results import StageUsage


def _params(tmp_path: Path, params: Params, *stages: tuple[str, float]) -> Params:
    usage = tmp_path / "usage"
    usage.mkdir()
    for name, wall in stages:
        record = StageUsage(stage=name, wall_seconds=wall, cpu_seconds=wall * 1.5, peak_mib=300 + wall)
        (usage / f"{name}.json").write_text(record.model_dump_json())
    return params.model_copy(update={"paths": params.paths.model_copy(update={"usage": usage})})


def test_minutes_are_rounded_up_and_priced_by_the_machine(tmp_path: Path, params: Params) -> None:
    settings = _params(tmp_path, params, ("train", 70.0), ("evaluate", 20.0))
    hosted = cost.summarize(settings, {"RUNNER_ENVIRONMENT": "github-hosted"})
    assert (hosted.minutes_billed, hosted.cpu_seconds, hosted.peak_mib) == (2, 135.0, 370.0)
    assert hosted.estimate_usd == round(2 * params.cost.per_minute["github-hosted"], 4)
    spot = cost.summarize(settings, {"CLOUD": "aws", "CLOUD_TYPE": "l", "CLOUD_SPOT": "true"})
    assert (spot.machine, spot.spot) == ("l", True)
    assert spot.estimate_usd == round(2 * params.cost.per_minute["l"] * params.cost.spot_share, 4)
    text = cost.render(spot)
    assert "| train | 70.0 | 105.0 | 370 |" in text and "`l` (spot)" in text and "x spot share" in text


def test_an_unpriced_machine_and_an_up_to_date_repro(tmp_path: Path, params: Params) -> None:
    unknown = cost.summarize(_params(tmp_path, params, ("drift", 5.0)), {"CLOUD": "aws", "CLOUD_TYPE": "p4d.24xlarge"})
    assert unknown.estimate_usd is None and "no price in params.yaml" in cost.render(unknown)
    nothing = cost.summarize(
        params.model_copy(update={"paths": params.paths.model_copy(update={"usage": tmp_path / "none"})}), {}
    )
    assert nothing.minutes_billed == 0 and "No stage ran" in cost.render(nothing)
