"""The example domain ends at its package: no column, table, noun or name of NYC flights appears in the machinery
(src/ outside `retrain/domain/nycflights/`), the Makefile, dvc.yaml, bentofile.yaml, the workflows, deploy/ (outside
the golden records, which are the example's rows) or the tests (outside tests/example/). A fork that replaces the
example changes none of those files. This test knows the example, so it lives with the example's tests and leaves
with them."""

from __future__ import annotations

import re
import subprocess

from retrain.domain.nycflights import DOMAIN, FlightSettings
from tests.support import ROOT

SCOPE = ("src", "Makefile", "dvc.yaml", "bentofile.yaml", ".github", "deploy", "tests")
OUTSIDE = ("src/retrain/domain/nycflights/", "deploy/golden.json", "tests/example/")
# Column names that are also plain words of calendars, git and geometry (a batch period is a day or a month, git's
# remote is origin, the canary's KS distance), and "late" (late labels: any domain's labels arrive after the fact)
WORDS = {"year", "month", "day", "hour", "minute", "origin", "distance", "late"}
# What result files written before the machinery knew domains call their fields: read, never written, so old
# commits' files stay readable (`retrain history`, a rollback's metrics)
OLD_FIELDS = {"newest_flight", "late_share", "test_late_share"}


def _vocabulary() -> tuple[set[str], set[str]]:
    """Whole names (columns, settings, target, outcome, classes, the model's name) and nouns (rows, tables, the
    package), which also count inside an identifier (`newest_flight`, `WeatherJoin`)."""
    tables = (DOMAIN.batch, *DOMAIN.sides)
    names = {column.name for table in tables for column in table.columns} | set(FlightSettings.model_fields)
    names |= {DOMAIN.name, DOMAIN.bento, DOMAIN.target, DOMAIN.outcome, *DOMAIN.words.classes}
    nouns = {DOMAIN.words.row, DOMAIN.words.rows, *(table.name for table in tables), "nycflights"}
    return names - WORDS, nouns


def _parts(identifier: str) -> list[str]:
    return [part.lower() for part in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", identifier)]


def test_the_machinery_and_the_loop_s_files_name_nothing_of_the_example() -> None:
    names, nouns = _vocabulary()
    assert {"carrier", "time_hour", "arr_delay", "late_minutes", "flight-delay"} <= names  # the vocabulary is real
    listed = subprocess.run(["git", "ls-files", *SCOPE], cwd=ROOT, capture_output=True, text=True, check=True)
    found = []
    for name in listed.stdout.split():
        if name.startswith(OUTSIDE) or not (ROOT / name).is_file():
            continue
        for number, line in enumerate((ROOT / name).read_text(errors="replace").splitlines(), 1):
            text = line.lower()
            hits = {n for n in names if re.search(rf"(?<![\w-]){re.escape(n.lower())}(?![\w-])", text)}
            identifiers = set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", line)) - OLD_FIELDS
            hits |= {part for identifier in identifiers for part in _parts(identifier) if part in nouns}
            if hits:
                found.append(f"{name}:{number}: {', '.join(sorted(hits))}: {line.strip()[:100]}")
    assert not found, "the example's vocabulary outside its package:\n" + "\n".join(found)
