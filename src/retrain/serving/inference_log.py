"""The JSON-lines inference log, written by a background thread so the request path only enqueues.

Files are `predictions-YYYY-MM-DD-<pid>-<n>.jsonl` in the folder: a new one each day and whenever one passes
`max_bytes`; one writer per process, so workers never interleave lines. `retrain monitor` reads them, here or, when
`ship_to` is an fsspec URL ($RETRAIN_LOG_SHIP, e.g. `s3://bucket/logs`, beside the DVC remote), from there: the
writer uploads each closed file (its own when it rotates or closes; any file of an earlier day, whichever process
wrote it) and marks it with an empty `<name>.shipped` beside it. A failed upload is logged and retried at the next
rotation; it never stops the writer.

It degrades loudly: a line that cannot be queued (the writer is behind) or written (a full disk, a folder that is not
writable) is dropped, counted by reason through `on_drop`, and reported in the log at most once a minute; the
writer opens a new file on the next line, so it recovers by itself when the disk frees. Retention: at each rotation
closed files older than `retention.days`, or the oldest beyond `retention.max_bytes` in total, are deleted, never
one younger than `retention.keep_days` (what monitoring reads) nor one not yet shipped.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import numpy as np

_STOP = object()
log = logging.getLogger(__name__)


def _reason(error: OSError) -> str:
    """A bounded label for a write failure: the errno's name (ENOSPC, EACCES, ...)."""
    return "write_error_" + errno.errorcode.get(error.errno or 0, type(error).__name__)


def _iso(value: Any) -> str:
    """A record's value that JSON has no type for: a time (a domain's datetime input), as ISO 8601."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@dataclass(frozen=True)
class Retention:
    days: float = float("inf")
    max_bytes: float = float("inf")
    keep_days: float = 0  # never delete a file younger than this (monitor.window_days)


class InferenceLog:
    def __init__(
        self,
        folder: Path,
        max_bytes: int,
        sample: float,
        seed: int | None = None,
        ship_to: str | None = None,
        retention: Retention | None = None,
        on_drop: Callable[[str, int], None] | None = None,
        queue_size: int = 100_000,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.max_bytes, self.sample, self.ship_to = folder, max_bytes, sample, ship_to
        self.retention = retention or Retention()
        self.ship_failures = 0
        self.dropped: dict[str, int] = {}
        self._on_drop = on_drop
        self._reported = 0.0  # when drops were last reported in the log
        self._random = random.Random(seed)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()

    def write(
        self,
        request_id: str,
        model: str,
        records: list[dict[str, Any]],
        probabilities: np.ndarray,
        shadow: np.ndarray | None,
    ) -> None:
        """Enqueue one line per record (or a sampled share of them); never blocks the request for I/O."""
        timestamp = datetime.datetime.now(datetime.UTC).isoformat()
        for index, record in enumerate(records):
            if self.sample < 1 and self._random.random() >= self.sample:
                continue
            line = {
                "request_id": f"{request_id}/{index}",
                "timestamp": timestamp,
                "model": model,
                "features": record,
                "probability": float(probabilities[index]),
            }
            if shadow is not None:
                line["shadow_probability"] = float(shadow[index])
            try:
                self._queue.put_nowait(json.dumps(line, default=_iso))
            except queue.Full:  # the writer cannot keep up: drop the line, never slow a request
                self._drop("queue_full", 1)

    def close(self, timeout: float = 10) -> None:
        """Write what is queued and stop, within `timeout` seconds even when the queue is full."""
        self._stopping.set()
        with contextlib.suppress(queue.Full):  # else the writer stops once it has drained the queue
            self._queue.put(_STOP, timeout=timeout / 2)
        self._thread.join(timeout=timeout)

    def _drop(self, reason: str, lines: int) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + lines
        if self._on_drop is not None:
            self._on_drop(reason, lines)
        if time.monotonic() - self._reported >= 60:
            self._reported = time.monotonic()
            log.warning("inference log: lines dropped so far, by reason: %s (folder %s)", self.dropped, self.folder)

    def _path(self, day: str, part: int) -> Path:
        return self.folder / f"predictions-{day}-{os.getpid()}-{part}.jsonl"

    def _ship(self, today: str) -> None:
        """Upload every closed file not shipped yet (called when this process has no file open): its own, and any of
        an earlier day (every writer has rotated away from it)."""
        if not self.ship_to:
            return
        mine = f"-{os.getpid()}-"
        for path in sorted(self.folder.glob("predictions-*.jsonl")):
            closed = mine in path.name or path.name[len("predictions-") :][:10] < today
            marker = path.with_name(path.name + ".shipped")
            if not closed or marker.exists():
                continue
            try:
                filesystem, root = fsspec.core.url_to_fs(self.ship_to)
                filesystem.makedirs(root, exist_ok=True)
                filesystem.put_file(str(path), f"{root.rstrip('/')}/{path.name}")
                marker.touch()
            except Exception as error:  # any failure of any filesystem: count it, say it, retry at the next rotation
                self.ship_failures += 1
                log.warning("inference log: could not ship %s to %s (%s); will retry", path.name, self.ship_to, error)
                return

    def _retain(self, current: Path | None) -> None:
        """Delete closed files past the age or total-size limit, oldest first, keeping what monitoring still reads
        and what is not shipped yet."""
        now, retention = time.time(), self.retention
        files = sorted(
            (path for path in self.folder.glob("predictions-*.jsonl") if path != current),
            key=lambda path: path.stat().st_mtime,
        )
        total = sum(path.stat().st_size for path in files) + (current.stat().st_size if current else 0)
        for path in files:
            age_days = (now - path.stat().st_mtime) / 86_400
            if age_days <= retention.days and total <= retention.max_bytes:
                break
            marker = path.with_name(path.name + ".shipped")
            if age_days < retention.keep_days or (self.ship_to and not marker.exists()):
                continue
            total -= path.stat().st_size
            path.unlink()
            marker.unlink(missing_ok=True)

    def _run(self) -> None:
        day, part, handle, pending = "", 0, None, 0
        while True:
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._stopping.is_set():
                    break
                continue
            if item is _STOP:
                break
            today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
            try:
                if handle is None or today != day or handle.tell() >= self.max_bytes:
                    if handle is not None:
                        handle.close()
                        handle = None
                        self._ship(today)
                        self._retain(None)
                    part = part + 1 if today == day else 0
                    day = today
                    handle = self._path(day, part).open("a")
                handle.write(item + "\n")
                pending += 1
                if self._queue.empty():
                    handle.flush()
                    pending = 0
            except OSError as error:  # a full disk, a folder gone: drop, report, start a new file next time
                self._drop(_reason(error), pending + 1)
                pending = 0
                if handle is not None:
                    with contextlib.suppress(OSError):
                        handle.close()
                    handle = None
        if handle is not None:
            try:
                handle.close()
            except OSError as error:
                self._drop(_reason(error), pending)
        self._ship(datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"))
