"""dvc.yaml's code dependencies are complete: every project module a stage's command runs is inside a dependency
of that stage, so editing it makes `dvc status` report the stage. The modules come from the import graph, and the
domain's from params.yaml (the machinery imports it by the name `domain.module` gives)."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
import yaml

from retrain.cli.stages import STAGES
from retrain.params import load
from tests.support import ROOT

SRC = ROOT / "src"
STAGE_DEFINITIONS = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _file(module: str) -> Path:
    path = SRC / module.replace(".", "/")
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def domain_files() -> set[Path]:
    """The files of the domain params.yaml names, and what they import."""
    return imported_files(load(ROOT / "params.yaml").domain.module)


def imported_files(*modules: str) -> set[Path]:
    """Every project file that importing these modules runs: their imports, transitively, and every package's
    __init__ on the way (Python runs a package's __init__ before any of its modules)."""
    graph = grimp.build_graph("retrain")
    found = set(modules)
    for module in modules:
        found |= graph.find_upstream_modules(module)
    packages = {".".join(name.split(".")[:i]) for name in found for i in range(1, name.count(".") + 1)}
    return {_file(name) for name in found | packages}


def covered(path: Path, deps: list[str]) -> bool:
    relative = path.relative_to(ROOT)
    return any(relative == Path(dep) or Path(dep) in relative.parents for dep in deps if "${" not in dep)


@pytest.mark.parametrize("stage", STAGES)
def test_every_module_a_stage_runs_is_one_of_its_dependencies(stage: str) -> None:
    deps = [str(dep) for dep in STAGE_DEFINITIONS[stage]["deps"]]
    runs = imported_files("retrain.cli.stages", f"retrain.pipeline.{stage}") | domain_files()
    missing = sorted(str(path.relative_to(ROOT)) for path in runs if not covered(path, deps))
    assert not missing, f"dvc.yaml stage {stage!r} does not depend on {missing}"


@pytest.mark.parametrize("stage", ["train", "evaluate"])
def test_stages_whose_outputs_depend_on_library_versions_depend_on_the_lock(stage: str) -> None:
    assert "requirements.lock" in STAGE_DEFINITIONS[stage]["deps"]


def test_the_check_finds_a_module_that_is_missing() -> None:
    runs = imported_files("retrain.pipeline.train")
    assert SRC / "retrain/pipeline/__init__.py" in runs and SRC / "retrain/domain/__init__.py" in runs
    assert not all(covered(path, ["src/retrain/pipeline"]) for path in runs)
