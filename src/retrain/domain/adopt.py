"""`retrain adopt`: start this repository over on a team's own data, once its domain is written
(`src/retrain/domain/`) and named in params.yaml (README: Bring your own data).

It checks the team's files against the domain first (batch files named for their period, the side tables the
domain names), and only then: retires what the repository held (the data pointers, dvc.lock, which names the
champion, and every output it records) in one commit of its own, so that the base names no model and `retrain
compare` judges the next one as a first model by the tree's own floors; lands the team's batches and side tables
with DVC pointers; runs `dvc repro`, which trains the first model; and writes the golden records (the smoke test's
and the compiled trees' check: 20 rows of the test window, as request records). The new pointers, dvc.lock and
golden records are left for the team to review and commit."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from retrain.domain import Domain, load_domain, periods
from retrain.errors import BadInput
from retrain.io import files, vcs
from retrain.params import Params

log = logging.getLogger(__name__)


def _check(params: Params, batches: list[Path], sides: list[Path]) -> None:
    """The team's files fit the domain params.yaml names; else BadInput naming them, before anything changes."""
    domain = load_domain(params)
    if not batches:
        raise BadInput("adopt: give the first batch files (at least two batch periods: one to train, one to test)")
    form = periods.FORM[domain.period]
    for path in [*batches, *sides]:
        if not path.is_file() or path.suffix != ".parquet":
            raise BadInput(f"adopt: {path} is not a parquet file")
    wrong = [str(path) for path in batches if periods.start(path.stem, domain.period) is None]
    if wrong:
        raise BadInput(f"adopt: batch files are named for their {domain.period} ({form}.parquet): {', '.join(wrong)}")
    named, given = sorted(table.name for table in domain.sides), sorted(path.stem for path in sides)
    if named != given:
        raise BadInput(f"adopt: the domain's side tables are {named or 'none'}; given {given or 'none'}")


def golden(test: pd.DataFrame, domain: Domain, rows: int = 20) -> list[dict[str, Any]]:
    """A few rows of the test window as request records (the model's inputs and the label key; times in ISO 8601,
    missing values null): what the smoke test sends and the service checks its compiled trees on."""

    def plain(value: Any) -> Any:
        if pd.isna(value):
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        return value.item() if hasattr(value, "item") else value

    names = [column.name for column in domain.columns()]
    sample = test.sample(min(rows, len(test)), random_state=0)[names]
    return [{str(name): plain(value) for name, value in record.items()} for record in sample.to_dict("records")]


def adopt(params: Params, root: Path, batches: list[Path], sides: list[Path]) -> str:
    """Retire the repository's data and champion, land these files, train a first model; what it did."""
    _check(params, batches, sides)
    paths = params.paths
    pointers = sorted([*paths.landing.glob("*.dvc"), *paths.sides.glob("*.dvc")])
    lock = root / "dvc.lock"
    outputs = vcs.lock_outputs(lock.read_text() if lock.exists() else None)
    retired = [str(path) for path in pointers] + outputs + (["dvc.lock"] if lock.exists() else [])
    commit = vcs.remove_and_commit(
        root, retired, "Retire the example: its data pointers, dvc.lock (no champion) and outputs (retrain adopt)"
    )
    for pointer in pointers:
        pointer.with_suffix("").unlink(missing_ok=True)  # the data a retired pointer named
    landed = []
    for source, folder in [*((path, paths.landing) for path in batches), *((path, paths.sides) for path in sides)]:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / source.name)
        landed.append(str(folder / source.name))
    vcs.run_dvc(root, "add", "--quiet", *landed)
    vcs.run_dvc(root, "repro")
    files.write_json(golden(files.read_frame(paths.test), load_domain(params)), paths.golden)
    done = (
        f"retired {len(pointers)} data pointer(s), dvc.lock and {len(outputs)} output(s) in {commit[:12]}; landed "
        f"{len(batches)} batch(es) and {len(sides)} side table(s); trained a first model; wrote {paths.golden}. "
        "Review, then commit the pointers, dvc.lock and the golden records: `retrain compare` judges it as a first "
        "model (no champion at the base)"
    )
    log.info("adopt: %s", done)
    return done
