"""The data a domain bundles (`Domain.bundled`: the example ships its batches): `retrain new-batch` lands one batch of
it, `retrain bootstrap` recreates, byte for byte, the files the committed pointers name when no DVC remote holds them.
A domain without bundled data has neither: its batches come from its own sources, pushed to the DVC remote."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from retrain.domain import Domain, load_domain, periods
from retrain.errors import BadInput
from retrain.io import files, vcs
from retrain.params import Params

log = logging.getLogger(__name__)


def _frame(domain: Domain, name: str) -> pd.DataFrame | None:
    return domain.bundled(name) if domain.bundled else None


def new_batch(params: Params, root: Path, period: str) -> None:
    """Simulate the arrival of a batch from the bundled data: write it to the landing folder and track it with DVC."""
    domain = load_domain(params)
    if periods.start(period, domain.period) is None:
        raise BadInput(f"a batch is one {domain.period}, written {periods.FORM[domain.period]}, not {period!r}")
    path = params.paths.landing / f"{period}.parquet"
    if path.exists():
        raise BadInput(f"{path} already exists; batches are immutable (remove it and its .dvc pointer to redo)")
    frame = _frame(domain, period)
    if frame is None:
        raise BadInput(f"the domain bundles no data for {period} (domain.module {params.domain.module})")
    files.write_frame(frame, path)
    vcs.run_dvc(root, "add", "--quiet", str(path))
    log.info(
        "new-batch: wrote %s (%d %s) and %s.dvc; commit the pointer, then `make retrain`",
        path,
        len(frame),
        domain.words.rows,
        path,
    )


def bootstrap(params: Params, root: Path, push: bool = True) -> None:
    """Recreate, byte for byte, the bundled data that the committed pointers name and that is not in the workspace
    (no DVC remote, or one that does not hold it yet: `make data` pulls first), and push what it recreated to the
    DVC remote when there is one and `push` allows. A file that is neither here nor the bundled data (a team's own
    batch never pushed) is an error naming it, after the others are recreated and pushed."""
    domain = load_domain(params)
    pointers = sorted(params.paths.landing.glob("*.parquet.dvc")) + sorted(params.paths.sides.glob("*.parquet.dvc"))
    written, foreign = [], []
    for pointer in pointers:
        path = pointer.with_suffix("")
        expected = vcs.pointer_md5(pointer)
        if path.exists() and files.md5(path) == expected:
            continue
        frame = _frame(domain, path.name.removesuffix(".parquet"))
        if frame is not None:
            files.write_frame(frame, path)
            if files.md5(path) == expected:
                written.append(pointer)
                continue
            path.unlink()
        foreign.append(pointer)
    remote = vcs.default_remote(root)
    in_place = f"{len(pointers) - len(written) - len(foreign)} already in place"
    if written:
        vcs.run_dvc(root, "commit", "--force", "--quiet", *map(str, written))
        names = ", ".join(str(pointer.with_suffix("")) for pointer in written)
        if remote and push:
            vcs.run_dvc(root, "push", "--quiet", *map(str, written))
            done = f"regenerated and pushed to the DVC remote {remote!r}"
        elif remote:
            done = "regenerated (not pushed: DVC_PUSH=false)"
        else:
            done = "regenerated (no DVC remote to push them to: set DVC_REMOTE_URL, or `dvc remote add -d`)"
        log.info("bootstrap: %d file(s) %s: %s; %s", len(written), done, names, in_place)
    else:
        log.info("bootstrap: nothing to regenerate, %s", in_place)
    if foreign:
        raise BadInput(_not_here(foreign, remote is not None))


def _not_here(pointers: list[Path], remote: bool) -> str:
    """What to do about data files that are neither in the workspace nor the bundled data."""
    names = ", ".join(str(pointer) for pointer in pointers)
    where = "the DVC remote does not hold them" if remote else "there is no DVC remote to pull them from"
    return (
        f"{len(pointers)} data file(s) the pointers name are not here and are not the domain's bundled data: {names}; "
        f"{where}. Push them from the machine that has them (`dvc push {' '.join(map(str, pointers))}`), "
        "then run `make data` (`dvc pull`) again"
        + ("" if remote else ", with the remote configured (DVC_REMOTE_URL, or `dvc remote add -d`)")
    )
