"""The model file: a whole fitted Pipeline in skops format, loaded with trusted types only (never pickle), saved
with bytes that depend on the model alone, and the one check that a file is the model that dvc.lock names."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from retrain.io import vcs
from retrain.io.files import InputError, md5

# Types a saved Pipeline may contain beyond skops' defaults. Loading refuses anything else: no pickle.
# Saved models name functions by qualified name: `retrain.pipeline.derive_features` must stay importable there.
TRUSTED_TYPES = [
    "functools.partial",
    "numpy.dtype",
    "retrain.pipeline.clean_readings",
    "retrain.pipeline.derive_features",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
]


class ModelMismatch(InputError):
    """The model file is missing, or is not the one dvc.lock names."""


def save(model: Any, path: Path) -> None:
    """Save a fitted Pipeline with skops; fail if it holds a type that loading would not trust."""
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)
    _normalise(path)
    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        path.unlink()
        raise TypeError(f"{path}: the model holds types not in modelfile.TRUSTED_TYPES: {untrusted}")


def _normalise(path: Path) -> None:
    """Make a skops file a function of the model alone: skops names objects by `id()` and stamps the time, so
    the same fitted Pipeline would get new bytes (and a new md5) on every save. Renumber the ids in order of
    appearance and give every zip entry a fixed timestamp."""
    with zipfile.ZipFile(path) as source:
        schema = json.loads(source.read("schema.json"))
        arrays = {name: source.read(name) for name in source.namelist() if name != "schema.json"}
    numbers: dict[str, str] = {}

    def renumber(node: Any) -> Any:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "__id__":
                    node[key] = int(numbers.setdefault(str(value), str(len(numbers) + 1)))
                elif key == "file" and isinstance(value, str) and "." in value:  # x.npy, or x.bin (a Booster)
                    stem, suffix = value.rsplit(".", 1)
                    node[key] = numbers.setdefault(stem, str(len(numbers) + 1)) + "." + suffix
                else:
                    renumber(value)
        elif isinstance(node, list):
            for item in node:
                renumber(item)
        return node

    entries = {"schema.json": json.dumps(renumber(schema), indent=2).encode()}
    entries |= {numbers[name.rsplit(".", 1)[0]] + "." + name.rsplit(".", 1)[1]: data for name, data in arrays.items()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in sorted(entries):
            target.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), entries[name])


def load(path: Path) -> Any:
    """Load a Pipeline saved by `save`, trusting only TRUSTED_TYPES."""
    import skops.io as sio

    if not path.is_file():
        raise InputError(f"{path}: model file not found (run `dvc repro` or `dvc pull`)")
    return sio.load(path, trusted=TRUSTED_TYPES)


def locked(root: Path, model: Path) -> str:
    """The md5 that `root/dvc.lock` names for `model` (a path relative to root), after checking that the file at
    `root/model` has it: the one "this is the model dvc.lock names" check (compare, serve, smoke, promote, deploy)."""
    lock = root / "dvc.lock"
    expected = vcs.lock_md5(lock.read_text() if lock.is_file() else None, model)
    file = root / model
    if expected is None:
        raise ModelMismatch(f"{lock} names no {model}: nothing to serve")
    if not file.is_file():
        raise ModelMismatch(f"{file} is missing (dvc.lock names md5 {expected}): run `dvc pull` or `dvc repro`")
    actual = md5(file)
    if actual != expected:
        raise ModelMismatch(f"{file} has md5 {actual} but dvc.lock names {expected} (`dvc repro` or `dvc pull`)")
    return expected
