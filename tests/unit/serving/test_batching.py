"""The micro-batcher: concurrent requests share one scoring call, no waiter can stop the ones after it, overload is
shed before it queues, and a record the model cannot score fails only the request that sent it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

from retrain.serving.batching import Batcher, Overloaded, RecordFailed


def slow_score(records: list[dict[str, Any]]) -> np.ndarray:
    time.sleep(0.3)
    return np.array([float(record["x"]) for record in records])


def test_a_cancelled_waiter_does_not_wedge_the_batcher() -> None:
    async def scenario() -> np.ndarray:
        batcher = Batcher(slow_score, max_rows=100)
        first = asyncio.create_task(batcher.submit([{"x": 1}]))
        await asyncio.sleep(0.05)  # the first batch is being scored
        second = asyncio.create_task(batcher.submit([{"x": 2}]))
        await asyncio.sleep(0.05)
        second.cancel()  # a request timeout or a client disconnect, while its records wait in the queue
        with pytest.raises(asyncio.CancelledError):
            await second
        await first
        return await asyncio.wait_for(batcher.submit([{"x": 3}]), timeout=5)

    np.testing.assert_array_equal(asyncio.run(scenario()), [3.0])


def test_a_waiter_cancelled_during_scoring_does_not_wedge_the_batcher() -> None:
    async def scenario() -> np.ndarray:
        batcher = Batcher(slow_score, max_rows=100)
        first = asyncio.create_task(batcher.submit([{"x": 1}]))
        await asyncio.sleep(0.1)  # its batch is in the scorer now
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await asyncio.wait_for(batcher.submit([{"x": 4}]), timeout=5)

    np.testing.assert_array_equal(asyncio.run(scenario()), [4.0])


def test_concurrent_requests_are_scored_together_and_get_their_own_slice() -> None:
    calls: list[int] = []

    def score(records: list[dict[str, Any]]) -> np.ndarray:
        calls.append(len(records))
        time.sleep(0.05)
        return np.array([float(record["x"]) for record in records])

    async def scenario() -> list[np.ndarray]:
        batcher = Batcher(score, max_rows=100)
        return await asyncio.gather(*(batcher.submit([{"x": i}, {"x": i + 0.5}]) for i in range(5)))

    for i, probabilities in enumerate(asyncio.run(scenario())):
        np.testing.assert_array_equal(probabilities, [i, i + 0.5])
    assert len(calls) < 5  # at least two requests shared a call


def test_a_burst_past_the_latency_budget_is_shed_and_then_served() -> None:
    """Each call takes 0.1 s and takes 2 rows: with a 0.35 s budget about three batches may wait, the rest of a
    burst of 20 is refused at once (never queued), and once the queue drains a request is served again."""

    def score(records: list[dict[str, Any]]) -> np.ndarray:
        time.sleep(0.1)
        return np.zeros(len(records))

    async def scenario() -> tuple[list[np.ndarray | BaseException], np.ndarray, float]:
        batcher = Batcher(score, max_rows=2, budget=0.35)
        await batcher.submit([{"x": 0}])  # one call measured
        started = time.monotonic()
        burst = await asyncio.gather(*(batcher.submit([{"x": i}]) for i in range(20)), return_exceptions=True)
        took = time.monotonic() - started
        return burst, await batcher.submit([{"x": 1}]), took

    burst, after, took = asyncio.run(scenario())
    shed = [answer for answer in burst if isinstance(answer, Overloaded)]
    served = [answer for answer in burst if isinstance(answer, np.ndarray)]
    assert len(shed) + len(served) == 20 and 4 <= len(served) <= 10, (len(served), len(shed))
    assert all(answer.retry_after >= 1 for answer in shed)
    assert took < 1.0  # the served ones waited about the budget, not the whole burst's 1 s
    np.testing.assert_array_equal(after, [0.0])


def test_a_record_the_model_cannot_score_fails_only_the_request_that_sent_it() -> None:
    """A "poisoned" record passes validation but makes the model raise: the batch it shares is scored again, and
    only its own request fails, naming the record."""

    def score(records: list[dict[str, Any]]) -> np.ndarray:
        time.sleep(0.02)
        if any(record["x"] == -1 for record in records):
            raise ValueError("the marker value")
        return np.array([float(record["x"]) for record in records])

    async def scenario() -> list[np.ndarray | BaseException]:
        batcher = Batcher(score, max_rows=1000)
        poisoned = [{"x": i} for i in range(7)] + [{"x": -1}] + [{"x": 9}]
        requests = [[{"x": 1}, {"x": 2}], poisoned, [{"x": 3}]]
        return await asyncio.gather(*(batcher.submit(r) for r in requests), return_exceptions=True)

    good, bad, other = asyncio.run(scenario())
    assert isinstance(bad, RecordFailed) and bad.index == 7 and "records.7" in str(bad)
    assert isinstance(good, np.ndarray) and isinstance(other, np.ndarray)
    np.testing.assert_array_equal(good, [1.0, 2.0])
    np.testing.assert_array_equal(other, [3.0])


def test_a_scoring_call_that_never_returns_makes_the_batcher_unhealthy() -> None:
    def stuck(records: list[dict[str, Any]]) -> np.ndarray:
        time.sleep(0.5)
        return np.zeros(len(records))

    async def scenario() -> tuple[bool, bool, bool]:
        batcher = Batcher(stuck, max_rows=10, stall=0.2)
        before = batcher.healthy()
        task = asyncio.create_task(batcher.submit([{"x": 1}]))
        await asyncio.sleep(0.35)
        during = batcher.healthy()
        await task
        return before, during, batcher.healthy()

    assert asyncio.run(scenario()) == (True, False, True)
