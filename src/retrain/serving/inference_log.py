"""The JSON-lines inference log, written by a background thread so the request path only enqueues.

Files are `predictions-YYYY-MM-DD-<pid>-<n>.jsonl` in the folder: a new one each day and whenever one passes
`max_bytes`; one writer per process, so workers never interleave lines. `retrain monitor` reads them.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import queue
import random
import threading
from pathlib import Path
from typing import Any

import numpy as np

_STOP = object()


class InferenceLog:
    def __init__(self, folder: Path, max_bytes: int, sample: float, seed: int | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.max_bytes, self.sample = folder, max_bytes, sample
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
                part = part + 1 if today == day else 0
                day = today
                handle = self._path(day, part).open("a")
            handle.write(item + "\n")
            if self._queue.empty():
                handle.flush()
        if handle:
            handle.close()
