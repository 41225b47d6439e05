"""The JSON-lines inference log, written by a background thread so the request path only enqueues.

Files are `predictions-YYYY-MM-DD-<pid>-<n>.jsonl` in the folder: a new one each day and whenever one passes
`max_bytes`; one writer per process, so workers never interleave lines. `retrain monitor` reads them, here or, when
`ship_to` is an fsspec URL ($RETRAIN_LOG_SHIP, e.g. `s3://bucket/logs`, beside the DVC remote), from there: the
writer uploads each closed file (its own when it rotates or closes; any file of an earlier day, whichever process
wrote it) and marks it with an empty `<name>.shipped` beside it. A failed upload is logged and retried at the next
rotation; it never stops the writer.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import queue
import random
import threading
from pathlib import Path
from typing import Any

import fsspec
import numpy as np

_STOP = object()
log = logging.getLogger(__name__)


class InferenceLog:
    def __init__(
        self, folder: Path, max_bytes: int, sample: float, seed: int | None = None, ship_to: str | None = None
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.max_bytes, self.sample, self.ship_to = folder, max_bytes, sample, ship_to
        self.ship_failures = 0
        self._random = random.Random(seed)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=100_000)
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
            with contextlib.suppress(queue.Full):  # the disk cannot keep up: drop the line, never slow requests
                self._queue.put_nowait(json.dumps(line))

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

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

    def _run(self) -> None:
        day, part, handle = "", 0, None
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
            if handle is None or today != day or handle.tell() >= self.max_bytes:
                if handle:
                    handle.close()
                    self._ship(today)
                part = part + 1 if today == day else 0
                day = today
                handle = self._path(day, part).open("a")
            handle.write(item + "\n")
            if self._queue.empty():
                handle.flush()
        if handle:
            handle.close()
        self._ship(datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"))
