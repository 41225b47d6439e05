"""The micro-batcher: concurrent requests share one scoring call, and no waiter can stop the ones after it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

from retrain.serving.batching import Batcher


def slow_score(records: list[dict[str, Any]]) -> tuple[np.ndarray, None]:
    time.sleep(0.3)
    return np.array([float(record["x"]) for record in records]), None


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
        third, _ = await asyncio.wait_for(batcher.submit([{"x": 3}]), timeout=5)
        return third

    np.testing.assert_array_equal(asyncio.run(scenario()), [3.0])


def test_a_waiter_cancelled_during_scoring_does_not_wedge_the_batcher() -> None:
    async def scenario() -> np.ndarray:
        batcher = Batcher(slow_score, max_rows=100)
        first = asyncio.create_task(batcher.submit([{"x": 1}]))
        await asyncio.sleep(0.1)  # its batch is in the scorer now
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        later, _ = await asyncio.wait_for(batcher.submit([{"x": 4}]), timeout=5)
        return later

    np.testing.assert_array_equal(asyncio.run(scenario()), [4.0])


def test_concurrent_requests_are_scored_together_and_get_their_own_slice() -> None:
    calls: list[int] = []

    def score(records: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(records))
        time.sleep(0.05)
        values = np.array([float(record["x"]) for record in records])
        return values, -values

    async def scenario() -> list[tuple[np.ndarray, np.ndarray | None]]:
        batcher = Batcher(score, max_rows=100)
        return await asyncio.gather(*(batcher.submit([{"x": i}, {"x": i + 0.5}]) for i in range(5)))

    answers = asyncio.run(scenario())
    for i, (probabilities, shadow) in enumerate(answers):
        np.testing.assert_array_equal(probabilities, [i, i + 0.5])
        assert shadow is not None
        np.testing.assert_array_equal(shadow, [-i, -i - 0.5])
    assert len(calls) < 5  # at least two requests shared a call
