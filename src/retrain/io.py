"""The only module that reads and writes files: parquet frames, JSON reports and the skops model."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

BATCH_NAME = re.compile(r"^(\d{4})-(\d{2})\.parquet$")

# Types a saved Pipeline may contain beyond skops' defaults. Loading refuses anything else: no pickle.
TRUSTED_TYPES = [
    "functools.partial",
    "numpy.dtype",
    "retrain.pipeline.derive_features",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
]


class InputError(ValueError):
    """A file the pipeline needs is missing or unreadable; the message names it."""


def read_frame(path: Path) -> pd.DataFrame:
    """Read a parquet file, naming it in the error if that fails."""
    try:
        return pd.read_parquet(path)
    except FileNotFoundError as error:
        raise InputError(f"{path}: file not found") from error
    except Exception as error:  # pyarrow raises several types for a corrupt file
        raise InputError(f"{path}: not a readable parquet file ({error})") from error


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame as parquet, deterministically (same frame, same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False, compression="zstd")


def batch_paths(landing: Path) -> list[Path]:
    """The monthly batch files in the landing folder, oldest first; any other parquet name is an error."""
    if not landing.is_dir():
        raise InputError(f"{landing}: landing folder not found (run `make data`)")
    files = sorted(landing.glob("*.parquet"))
    wrong = [path.name for path in files if not BATCH_NAME.match(path.name)]
    if wrong:
        raise InputError(f"{landing}: batch files must be named YYYY-MM.parquet, found {', '.join(wrong)}")
    if not files:
        raise InputError(f"{landing}: no batch files (YYYY-MM.parquet)")
    return files


def read_batches(landing: Path) -> dict[str, pd.DataFrame]:
    """Every monthly batch, keyed by its file path."""
    return {str(path): read_frame(path) for path in batch_paths(landing)}


def write_json(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise InputError(f"{path}: file not found") from error


def md5(path: Path) -> str:
    """The md5 of a file, as DVC computes it for a single file."""
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pointer_md5(pointer: Path) -> str:
    """The md5 a `.dvc` pointer records for its single output."""
    data = yaml.safe_load(pointer.read_text())
    return str(data["outs"][0]["md5"])


def save_model(model: Any, path: Path) -> None:
    """Save a fitted Pipeline with skops; fail if it holds a type that loading would not trust."""
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)
    _normalise_skops(path)
    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        path.unlink()
        raise TypeError(f"{path}: the model holds types not in io.TRUSTED_TYPES: {untrusted}")


def _normalise_skops(path: Path) -> None:
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
                elif key == "file" and isinstance(value, str) and value.endswith(".npy"):
                    node[key] = numbers.setdefault(value[:-4], str(len(numbers) + 1)) + ".npy"
                else:
                    renumber(value)
        elif isinstance(node, list):
            for item in node:
                renumber(item)
        return node

    entries = {"schema.json": json.dumps(renumber(schema), indent=2).encode()}
    entries |= {numbers[name[:-4]] + ".npy": data for name, data in arrays.items()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in sorted(entries):
            target.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), entries[name])


def load_model(path: Path) -> Any:
    """Load a Pipeline saved by `save_model`, trusting only TRUSTED_TYPES."""
    import skops.io as sio

    if not path.is_file():
        raise InputError(f"{path}: model file not found (run `dvc repro` or `dvc pull`)")
    return sio.load(path, trusted=TRUSTED_TYPES)


def read_lines(directory: Path) -> list[str]:
    """Every line of the JSON-lines files in a folder (oldest file name first); none if the folder is missing."""
    if not directory.is_dir():
        return []
    lines: list[str] = []
    for path in sorted(directory.glob("*.jsonl")):
        lines += path.read_text(errors="replace").splitlines()
    return lines


def set_yaml_values(path: Path, changes: dict[str, Any]) -> None:
    """Change existing keys (dotted paths) of a YAML file in place, keeping its comments and layout."""
    from ruamel.yaml import YAML

    document = YAML()  # round-trip mode
    document.representer.add_representer(
        type(None), lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    tree = document.load(path.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = tree
        for key in parents:
            if not isinstance(node, dict) or key not in node:
                raise InputError(f"{path}: no key {dotted!r} (only existing keys can be set)")
            node = node[key]
        if not isinstance(node, dict) or last not in node:
            raise InputError(f"{path}: no key {dotted!r} (only existing keys can be set)")
        node[last] = value
    with path.open("w") as handle:
        document.dump(tree, handle)


# --- files as they are at a git ref (never by checking it out) ----------------------------------------------


def git_commit(root: Path, ref: str = "HEAD") -> str | None:
    """The commit a ref names, or None if it names none."""
    result = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=root, capture_output=True, text=True
    )
    return result.stdout.strip() or None


def git_show(root: Path, ref: str, path: Path | str) -> str | None:
    """A text file as committed at `ref`, or None if it is not there."""
    result = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=root, capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def dvc_remotes(root: Path) -> list[str]:
    """The names of the configured DVC remotes."""
    result = subprocess.run(["dvc", "remote", "list"], cwd=root, capture_output=True, text=True)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def git_last_change(root: Path, ref: str, path: Path | str) -> str | None:
    """The newest commit reachable from `ref` that changed `path`."""
    result = subprocess.run(
        ["git", "log", "-1", "--format=%H", ref, "--", str(path)], cwd=root, capture_output=True, text=True
    )
    return result.stdout.strip() or None


def git_files(root: Path, ref: str, folder: Path | str) -> list[str]:
    """The names of the files committed in a folder at `ref`."""
    result = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{ref}:{folder}"], cwd=root, capture_output=True, text=True
    )
    return result.stdout.split() if result.returncode == 0 else []


def lock_md5(lock_text: str | None, path: Path | str) -> str | None:
    """The md5 that a dvc.lock records for an output, or None if it has none."""
    stages = (yaml.safe_load(lock_text or "") or {}).get("stages", {})
    for stage in stages.values():
        for out in stage.get("outs", []):
            if out["path"] == str(path):
                return str(out["md5"])
    return None


def fetch_dvc_output(root: Path, ref: str, path: Path, expected: str, target: Path) -> None:
    """Copy the version of a DVC output that `ref` names to `target`: from the local cache if it is there, else
    through `dvc.api` (which reads the ref's git objects and the configured remote). The md5 is checked."""
    cached = root / ".dvc" / "cache" / "files" / "md5" / expected[:2] / expected[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    if cached.is_file():
        shutil.copyfile(cached, target)
    else:
        import dvc.api

        with dvc.api.open(str(path), repo=str(root), rev=ref, mode="rb") as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink)
    if md5(target) != expected:
        raise InputError(f"{path} at {ref}: fetched file has md5 {md5(target)}, dvc.lock says {expected}")
