"""Adaptive micro-batching for the service: concurrent requests are scored together in one Pipeline call.

Requests queue their records; one task takes everything waiting (up to `max_rows`), scores it in a thread so the
event loop keeps accepting requests, and hands each request its slice. Under load the batches grow by themselves;
a lone request waits for no one. Scoring one row through the Pipeline costs about as much as scoring a hundred
(pandas and ColumnTransformer overhead), so this is where the service's throughput comes from.

Overload has a shape: the batcher knows what a call costs (a line, seconds = fixed + per row x rows, fitted to the
last 64 calls) and how many rows wait, so it refuses a request whose wait would pass the latency budget
(`Overloaded`, answered 503 with Retry-After) instead of letting every request wait longer and longer. A batch that
fails is scored again request by request, and a request that fails alone is halved until the record the model
cannot score is found, so only the request holding the bad record fails (`RecordFailed`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

Score = Callable[[list[dict[str, Any]]], np.ndarray]
Waiter = tuple[list[dict[str, Any]], "asyncio.Future[np.ndarray]"]


class Overloaded(Exception):
    """Waiting would pass the latency budget: try again in `retry_after` seconds."""

    def __init__(self, expected_wait: float) -> None:
        super().__init__(f"the wait would be {expected_wait:.2f} s")
        self.expected_wait, self.retry_after = expected_wait, max(1, math.ceil(expected_wait))


class RecordFailed(Exception):
    """The scorer raised on record `index` of this request, scored alone."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(f"records.{index}: the model cannot score this record ({type(error).__name__}: {error})")
        self.index, self.error = index, error


class Batcher:
    def __init__(self, score: Score, max_rows: int, budget: float = math.inf, stall: float = 30.0) -> None:
        self.score, self.max_rows, self.budget, self.stall = score, max_rows, budget, stall
        self._queue: asyncio.Queue[Waiter] | None = None
        self._task: asyncio.Task[None] | None = None
        self._queued_rows = 0
        self._calls: collections.deque[tuple[int, float]] = collections.deque(maxlen=64)  # (rows, seconds)
        self._scoring_since: float | None = None
        self._scoring_rows = 0

    def _cost(self, rows: int) -> float:
        """Seconds one call on `rows` rows takes, from the line through the recent calls (all fixed cost until
        calls of two sizes have been seen)."""
        sizes = np.array([n for n, _ in self._calls], dtype=float)
        seconds = np.array([t for _, t in self._calls])
        if len(set(sizes)) < 2:
            return float(seconds.mean())
        per_row, fixed = np.polyfit(sizes, seconds, 1)
        return max(float(fixed + per_row * rows), 0.0)

    def expected_wait(self, rows: int) -> float:
        """Seconds until `rows` more rows would start being scored: what is left of the running call, then the full
        batches queued ahead of them (they join the last one if it has room)."""
        if not self._calls:
            return 0.0
        wait = 0.0
        if self._scoring_since is not None:
            wait = max(self._cost(self._scoring_rows) - (time.monotonic() - self._scoring_since), 0.0)
        ahead, room_used = divmod(self._queued_rows, self.max_rows)
        if room_used and room_used + rows > self.max_rows:
            ahead += 1  # the partial batch is too full to take them
        return wait + ahead * self._cost(self.max_rows)

    def healthy(self) -> bool:
        """False once a scoring call has run for `stall` seconds: nothing is being answered (for /readyz)."""
        return self._scoring_since is None or time.monotonic() - self._scoring_since < self.stall

    async def submit(self, records: list[dict[str, Any]]) -> np.ndarray:
        """Probabilities for these records, scored with whatever else is waiting; `Overloaded` when the wait would
        pass the budget, `RecordFailed` when one of these records cannot be scored."""
        wait = self.expected_wait(len(records))
        if wait > self.budget:
            raise Overloaded(wait)
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._task is None or self._task.done():  # started on the first request (it needs the running loop)
            self._task = asyncio.create_task(self._run())
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._queued_rows += len(records)
        await self._queue.put((records, future))
        return await future

    async def _run(self) -> None:
        """Score whatever is waiting, for ever: no waiter and no error can end this loop."""
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            rows = len(batch[0][0])
            while not self._queue.empty() and rows + len(self._queue._queue[0][0]) <= self.max_rows:  # type: ignore[attr-defined]
                batch.append(self._queue.get_nowait())
                rows += len(batch[-1][0])
            self._queued_rows -= rows
            try:
                await self._score(batch)
            except Exception:  # a bug here must not stop every later prediction
                log.exception("batcher: a batch failed; the batcher goes on")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(RuntimeError("the batch could not be scored"))

    async def _call(self, records: list[dict[str, Any]]) -> np.ndarray:
        started = self._scoring_since = time.monotonic()
        self._scoring_rows = len(records)
        try:
            return await asyncio.to_thread(self.score, records)
        finally:
            self._scoring_since = None
            self._calls.append((len(records), time.monotonic() - started))

    async def _score(self, batch: list[Waiter]) -> None:
        """Score one batch and hand each waiter its slice; waiters that gave up (cancelled, timed out) are skipped.
        When the batch fails, each request is scored alone, and a request that fails alone record by record."""
        batch = [(part, future) for part, future in batch if not future.done()]
        if not batch:
            return
        try:
            probabilities = await self._call([record for part, _ in batch for record in part])
        except Exception:
            for part, future in batch:
                await self._isolate(part, future)
            return
        start = 0
        for part, future in batch:
            end = start + len(part)
            if not future.done():  # a waiter may give up while its batch is scored
                future.set_result(probabilities[start:end])
            start = end

    async def _isolate(self, part: list[dict[str, Any]], future: asyncio.Future[np.ndarray]) -> None:
        """One request alone; when it fails, halve it until the record the model cannot score is found (about 11
        calls for 2,000 records, so a bad record costs its sender, not the service)."""
        if future.done():
            return
        try:
            probabilities = await self._call(part)
        except Exception as whole:
            error: Exception = whole
            suspects, offset = part, 0
            while len(suspects) > 1:
                half = suspects[: len(suspects) // 2]
                try:
                    await self._call(half)
                except Exception:
                    suspects = half
                else:
                    offset, suspects = offset + len(half), suspects[len(half) :]
            try:
                await self._call(suspects)
            except Exception as alone:
                error = RecordFailed(offset, alone)
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(probabilities)
