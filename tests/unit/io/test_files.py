"""`set_yaml_values` (what `retrain set-params` writes): comments kept, and the file stays YAML after any number of
edits of lists and mappings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from retrain.io import files

TEXT = """\
drift:                   # the section's comment
  exclude: [a, b]        # a list's comment
  bins: 10               # a number's comment
compare:
  base: main
  slices: [x]
"""


def test_lists_and_mappings_set_again_and_again_keep_the_file_yaml_and_its_comments(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(TEXT)
    edits: list[dict[str, Any]] = [
        {"drift.exclude": ["c"], "compare.slices": ["x", "y"]},
        {"drift.exclude": [], "compare.slices": []},  # an empty list after a list (broke the file in a fork)
        {"drift.exclude": ["d"], "compare.base": "trunk"},
    ]
    for changes in edits:
        files.set_yaml_values(path, changes)
        loaded = yaml.safe_load(path.read_text())
        assert loaded["drift"]["exclude"] == changes["drift.exclude"]
    assert loaded == {"drift": {"exclude": ["d"], "bins": 10}, "compare": {"base": "trunk", "slices": []}}
    text = path.read_text()
    assert "# a list's comment" in text and "# a number's comment" in text and "exclude: [d]" in text
