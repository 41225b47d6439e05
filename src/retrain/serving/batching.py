"""Adaptive micro-batching for the service: concurrent requests are scored together in one Pipeline call.

Requests queue their records; one task takes everything waiting (up to `max_rows`), scores it in a thread so the
event loop keeps accepting requests, and hands each request its slice. Under load the batches grow by themselves;
a lone request waits for no one. Scoring one row through the Pipeline costs about as much as scoring a hundred
(pandas and ColumnTransformer overhead), so this is where the service's throughput comes from.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

Score = Callable[[list[dict[str, Any]]], tuple[np.ndarray, np.ndarray | None]]


class Batcher:
    def __init__(self, score: Score, max_rows: int) -> None:
        self.score, self.max_rows = score, max_rows
        self._queue: asyncio.Queue[tuple[list[dict[str, Any]], asyncio.Future[Any]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, records: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities (and shadow probabilities) for these records, scored with whatever else is waiting."""
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._task is None or self._task.done():  # started on the first request (it needs the running loop)
            self._task = asyncio.create_task(self._run())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((records, future))
        return await future  # type: ignore[no-any-return]

    async def _run(self) -> None:
        """Score whatever is waiting, for ever: no waiter and no error can end this loop."""
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            rows = len(batch[0][0])
            while not self._queue.empty() and rows + len(self._queue._queue[0][0]) <= self.max_rows:  # type: ignore[attr-defined]
                batch.append(self._queue.get_nowait())
                rows += len(batch[-1][0])
            try:
                await self._score(batch)
            except Exception:  # a bug here must not stop every later prediction
                log.exception("batcher: a batch failed; the batcher goes on")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(RuntimeError("the batch could not be scored"))

    async def _score(self, batch: list[tuple[list[dict[str, Any]], asyncio.Future[Any]]]) -> None:
        """Score one batch and hand each waiter its slice; waiters that gave up (cancelled, timed out) are skipped."""
        batch = [(part, future) for part, future in batch if not future.done()]
        if not batch:
            return
        records = [record for part, _ in batch for record in part]
        try:
            probabilities, shadow = await asyncio.to_thread(self.score, records)
        except Exception as error:  # every waiting request learns of it; the loop goes on
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        start = 0
        for part, future in batch:
            end = start + len(part)
            if not future.done():  # a waiter may give up while its batch is scored
                future.set_result((probabilities[start:end], None if shadow is None else shadow[start:end]))
            start = end
