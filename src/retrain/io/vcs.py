"""Git and DVC: the only module that runs them. Files are read as committed at a ref (never by checking it out),
and every ref is passed after `--end-of-options`, so a ref that starts with `-` can never become an option."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from retrain.errors import BadInput
from retrain.io.files import InputError, md5

SEPARATOR = "\x1f"


class VcsError(BadInput):
    """A git or dvc command failed; the message has its own."""


class OutputMissing(VcsError):
    """No DVC cache or remote here holds an output (also: no remote is configured). DVC reports some remotes it
    cannot reach this way too (an http remote that refuses the connection, a bucket the credentials may not read)."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def commit(root: Path, ref: str = "HEAD") -> str | None:
    """The commit a ref names, or None if it names none."""
    return (
        _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").stdout.strip() or None
    )


def resolve(root: Path, ref: str) -> str:
    """`ref` if it names a commit here, else `origin/<ref>` if that does (a CI checkout has the base branch only as
    a remote-tracking ref), else `ref` (which then names nothing, and says so where it is used)."""
    if commit(root, ref) is None and commit(root, f"origin/{ref}") is not None:
        return f"origin/{ref}"
    return ref


def show(root: Path, ref: str, path: Path | str) -> str | None:
    """A text file as committed at `ref`, or None if it is not there."""
    result = _git(root, "show", "--end-of-options", f"{ref}:{path}")
    return result.stdout if result.returncode == 0 else None


def last_change(root: Path, ref: str, path: Path | str) -> str | None:
    """The newest commit reachable from `ref` that changed `path`."""
    return _git(root, "log", "-1", "--format=%H", "--end-of-options", ref, "--", str(path)).stdout.strip() or None


def files(root: Path, ref: str, folder: Path | str) -> list[str]:
    """The names of the files committed in a folder at `ref`."""
    result = _git(root, "ls-tree", "--name-only", "--end-of-options", f"{ref}:{folder}")
    return result.stdout.split() if result.returncode == 0 else []


def log(root: Path, ref: str, path: Path | str) -> list[tuple[str, str, str, str]]:
    """(commit, ISO date, author, subject) of each first-parent commit on `ref` that changed `path`, newest first."""
    result = _git(
        root,
        "log",
        "--first-parent",
        f"--format=%H{SEPARATOR}%aI{SEPARATOR}%an{SEPARATOR}%s",
        "--end-of-options",
        ref,
        "--",
        str(path),
    )
    if result.returncode:
        raise VcsError(f"git log {ref} failed: {result.stderr.strip()}")
    return [tuple(line.split(SEPARATOR, 3)) for line in result.stdout.splitlines()]  # type: ignore[misc]


def lock_md5(lock_text: str | None, path: Path | str) -> str | None:
    """The md5 that a dvc.lock records for an output, or None if it has none."""
    found = _locked(lock_text, path)
    return found[1] if found else None


def lock_stage(lock_text: str | None, path: Path | str) -> str | None:
    """The stage that a dvc.lock records as making an output, or None."""
    found = _locked(lock_text, path)
    return found[0] if found else None


def lock_outputs(lock_text: str | None) -> list[str]:
    """Every output path a dvc.lock records, in its order."""
    return [str(out["path"]) for _, out in _outs(lock_text)]


def remove_and_commit(root: Path, paths: list[str], message: str) -> str:
    """Delete the tracked ones of `paths` (files or folders) from git and the working tree and commit only that; the
    commit's hash. Nothing else in the index or the tree is committed (a team's uncommitted edits stay so)."""
    tracked = [path for path in paths if _git(root, "ls-files", "--", path).stdout.strip()]
    if not tracked:
        raise VcsError(f"none of {', '.join(paths)} is tracked by git: nothing to remove")
    for args in (("rm", "-q", "-r", "--", *tracked), ("commit", "-q", "-m", message, "--", *tracked)):
        result = _git(root, *args)
        if result.returncode:
            raise VcsError(f"git {args[0]} failed: {(result.stderr or result.stdout).strip()}")
    return commit(root) or ""


def _outs(lock_text: str | None) -> list[tuple[str, dict[str, Any]]]:
    """Each output a dvc.lock records, with the stage that makes it, in its order."""
    stages = (yaml.safe_load(lock_text or "") or {}).get("stages", {})
    return [(str(name), out) for name, stage in stages.items() for out in stage.get("outs", [])]


def _locked(lock_text: str | None, path: Path | str) -> tuple[str, str] | None:
    return next(((name, str(out["md5"])) for name, out in _outs(lock_text) if out["path"] == str(path)), None)


def pointer_md5(pointer: Path) -> str:
    """The md5 a `.dvc` pointer records for its single output."""
    data = yaml.safe_load(pointer.read_text())
    return str(data["outs"][0]["md5"])


def _dvc(root: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The dvc of this interpreter's environment, whatever PATH says."""
    command = [sys.executable, "-m", "dvc", *args]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)


def run_dvc(root: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run a dvc command (in the environment `env`, else this one); its output, or VcsError with its message."""
    result = _dvc(root, *args, env=env)
    if result.returncode:
        raise VcsError(f"dvc {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def stale_code(root: Path) -> list[str]:
    """What makes dvc.lock stale in code or params, one "stage: what" line each: a code dependency (a git-tracked
    file or folder that is neither DVC-tracked data nor another stage's output) or a params key that differs from
    what the lock records, or a changed command. Data is not looked at: new data ahead of its retrain is normal."""
    if not (root / "dvc.lock").exists():
        return ["dvc.lock: missing (run `dvc repro` and commit dvc.lock)"]
    status = json.loads(run_dvc(root, "status", "--json") or "{}")
    tracked = _git(root, "ls-files").stdout.splitlines()
    outputs = {
        str(out)
        for stage in yaml.safe_load((root / "dvc.lock").read_text() or "{}").get("stages", {}).values()
        for out in (o["path"] for o in stage.get("outs", []))
    }

    def code(path: str) -> bool:
        inside = [name for name in tracked if name == path or name.startswith(path.rstrip("/") + "/")]
        return bool(inside) and path not in outputs and not any(name.endswith(".dvc") for name in inside)

    stale = []
    for stage, changes in status.items():
        for change in changes:
            if isinstance(change, str):  # "changed command"
                stale.append(f"{stage}: {change}")
                continue
            for path, how in change.get("changed deps", {}).items():
                if isinstance(how, dict):  # a params file: {key: modified | new | deleted}
                    stale += [f"{stage}: param {key} in {path} {state}" for key, state in how.items()]
                elif code(path) and how != "deleted":
                    stale.append(f"{stage}: {path} {how}")
    return stale


def dvc_remotes(root: Path) -> list[str]:
    """The names of the configured DVC remotes."""
    return [line.split()[0] for line in _dvc(root, "remote", "list").stdout.splitlines() if line.strip()]


def missing_on_remote(root: Path, url: str) -> list[str]:
    """The files this checkout's dvc.lock and pointers name that the DVC remote at `url` does not hold (the local
    cache is not asked: a file only there is missing too)."""
    from dvc.repo import Repo

    with Repo(str(root), config={"remote": {"doctor": {"url": url}}}) as repo:
        status = repo.status(cloud=True, remote="doctor")
    return sorted(name for name, state in status.items() if state in ("new", "missing"))


def default_remote(root: Path) -> str | None:
    """The name of the DVC remote that `dvc push` and `dvc pull` use, or None."""
    result = _dvc(root, "remote", "default")  # exits 1 ("No default remote set") when there is none
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def fetch_output(root: Path, ref: str, path: Path, expected: str, target: Path) -> None:
    """Copy the version of a DVC output that `ref` names to `target`: from the local cache if it is there, else
    through `dvc.api` (which reads the ref's git objects and the configured remote). The md5 is checked."""
    cached = root / ".dvc" / "cache" / "files" / "md5" / expected[:2] / expected[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    if cached.is_file():
        shutil.copyfile(cached, target)
    else:
        import dvc.api
        from dvc.config import NoRemoteError
        from dvc.exceptions import FileMissingError, PathMissingError

        try:
            with dvc.api.open(str(path), repo=str(root), rev=ref, mode="rb") as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)
        except (PathMissingError, FileMissingError, NoRemoteError) as error:
            where = "no DVC remote is configured" if isinstance(error, NoRemoteError) else "DVC found it in no remote"
            raise OutputMissing(f"it is not in the local DVC cache and {where} ({type(error).__name__})") from error
    if md5(target) != expected:
        raise InputError(f"{path} at {ref}: fetched file has md5 {md5(target)}, dvc.lock says {expected}")


def pointers(root: Path) -> list[str]:
    """The committed DVC pointers (`*.dvc` files), relative to `root`."""
    return _git(root, "ls-files", "--", "*.dvc").stdout.split()


def absent(root: Path) -> list[str]:
    """The committed pointers whose data is not in the workspace with the md5 they record."""
    missing = []
    for name in pointers(root):
        out = yaml.safe_load((root / name).read_text())["outs"][0]
        path, expected = (root / name).parent / str(out["path"]), str(out["md5"])
        present = path.is_dir() if expected.endswith(".dir") else path.is_file() and md5(path) == expected
        if not present:
            missing.append(name)
    return missing


@contextlib.contextmanager
def worktree(root: Path, commit_: str) -> Iterator[Path]:
    """`commit_` checked out in a temporary folder (a detached git worktree) whose DVC uses this repository's cache
    and its local config (the remote `make ci-remote` adds): what DVC builds there lands in the shared cache.
    Removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="retrain-worktree-") as scratch:
        path = Path(scratch) / "tree"
        _git(root, "worktree", "prune")  # what a killed run left registered
        result = _git(root, "worktree", "add", "--quiet", "--detach", str(path), commit_)
        if result.returncode:
            raise VcsError(f"git worktree add {commit_} failed: {result.stderr.strip()}")
        try:
            local = root / ".dvc" / "config.local"
            if local.is_file() and (path / ".dvc").is_dir():
                shutil.copyfile(local, path / ".dvc" / "config.local")
            run_dvc(path, "config", "--local", "cache.dir", run_dvc(root, "cache", "dir").strip())
            yield path
        finally:
            _git(root, "worktree", "remove", "--force", str(path))


def subject(root: Path, ref: str = "HEAD") -> str:
    """The first line of a commit's message."""
    return _git(root, "log", "-1", "--format=%s", "--end-of-options", ref).stdout.strip()


def is_ancestor(root: Path, commit_: str, ref: str) -> bool:
    """Whether `ref` holds `commit_`."""
    return _git(root, "merge-base", "--is-ancestor", "--end-of-options", commit_, ref).returncode == 0


def commit_files(root: Path, parent: str, paths: list[str], message: str) -> str:
    """A commit of the working tree's `paths` (ignored files included) on top of `parent`, made in an index of its
    own: neither the checkout nor its index changes. Its hash."""
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, GIT_INDEX_FILE=str(Path(scratch) / "index"))

        def git(*args: str) -> str:
            result = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=False)
            if result.returncode:
                raise VcsError(f"git {args[0]} failed: {result.stderr.strip()}")
            return result.stdout.strip()

        git("read-tree", "--end-of-options", parent)
        git("add", "-f", "--", *paths)
        return git("commit-tree", "-p", parent, "-m", message, git("write-tree"))


class PushRefused(VcsError):
    """origin refused to update a branch because the update changes a workflow file (GitHub refuses it to a token
    without the `workflows` permission, which a workflow's GITHUB_TOKEN never has)."""


def _remote(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git talking to origin with the job's token ($GITHUB_TOKEN), sent as actions/checkout sends it (the header
    http.<server>/.extraheader, so only to GitHub) but through the environment: nothing is written to .git/config."""
    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        return _git(root, *args)
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    server = os.environ.get("GITHUB_SERVER_URL") or "https://github.com"
    config = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"http.{server}/.extraheader"}
    config["GIT_CONFIG_VALUE_0"] = f"AUTHORIZATION: basic {basic}"
    env = dict(os.environ, **config)
    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=False)


def origin_url(root: Path) -> str:
    """origin's URL, "" when there is none."""
    result = _git(root, "remote", "get-url", "origin")
    return result.stdout.strip() if result.returncode == 0 else ""


def fetch(root: Path, branch: str) -> None:
    """origin's `branch` into refs/remotes/origin/<branch>, with the job's token (a private origin needs it)."""
    result = _remote(root, "fetch", "-q", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
    if result.returncode:
        raise VcsError(f"git fetch of {branch} failed: {result.stderr.strip()}")


def push(root: Path, commit_: str, branch: str) -> None:
    """Point origin's `branch` at `commit_`, replacing what it held (with a lease on what was fetched of it)."""
    ref, tracking = f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"
    fetched = _remote(root, "fetch", "-q", "origin", f"+{ref}:{tracking}").returncode == 0
    lease = [f"--force-with-lease={ref}:{commit(root, tracking)}"] if fetched else []  # else: it must not exist
    result = _remote(root, "push", "-q", *lease, "origin", f"{commit_}:{ref}")
    if result.returncode and "create or update workflow" in result.stderr:
        raise PushRefused(f"origin refused to update {branch}: {result.stderr.strip()}")
    if result.returncode:
        raise VcsError(f"git push of {branch} failed: {result.stderr.strip()}")


def delete_branch(root: Path, branch: str) -> None:
    """Delete origin's `branch`."""
    result = _remote(root, "push", "-q", "origin", f":refs/heads/{branch}")
    if result.returncode:
        raise VcsError(f"git push deleting {branch} failed: {result.stderr.strip()}")
