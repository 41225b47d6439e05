"""A results file that does not match its model is bad input naming the file, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrain.io.files import InputError
from retrain.results import Decision, Validation


@pytest.mark.parametrize("kind", [Validation, Decision])
@pytest.mark.parametrize("text", ['{"batches": "nope"}', "[1, 2]"])
def test_a_malformed_results_file_names_itself(tmp_path: Path, kind: type[Validation | Decision], text: str) -> None:
    path = tmp_path / "result.json"
    path.write_text(text)
    with pytest.raises(InputError, match=f"{path}: not a {kind.__name__}"):
        kind.read(path)
