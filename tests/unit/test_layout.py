"""Rules of the house that no linter states: only io/vcs.py runs git or dvc; params.yaml has no unknown section."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from retrain.params import ParamsError, load
from tests.support import ROOT


def test_only_the_vcs_module_runs_git_or_dvc() -> None:
    offenders = []
    for module in sorted((ROOT / "src/retrain").rglob("*.py")):
        if module == ROOT / "src/retrain/io/vcs.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            command = node.elts if isinstance(node, ast.List | ast.Tuple) else []
            if command and isinstance(command[0], ast.Constant) and command[0].value in ("git", "dvc"):
                offenders.append(f"{module.relative_to(ROOT)}: {ast.unparse(node)[:60]}")
    assert not offenders, f"git or dvc run outside io/vcs.py: {offenders}"


def test_an_unknown_params_section_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    path.write_text(path.read_text() + "\ntrian:\n  seed: 1\n")
    with pytest.raises(ParamsError, match="trian: Extra inputs are not permitted"):
        load(path)
