"""The flush decision (pure, fake clock) and the batcher's queues driven by it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from zeroserve.servers.batching import BatchConfig, Batcher, BatchPolicy, BatchTimeout


def test_wait_counts_down_from_the_oldest_arrival() -> None:
    policy = BatchPolicy(BatchConfig(max_batch_size=4, max_latency_ms=50))
    assert policy.wait(now=10.0, oldest_arrival=10.0, waiting_rows=1) == pytest.approx(0.05)
    assert policy.wait(now=10.03, oldest_arrival=10.0, waiting_rows=3) == pytest.approx(0.02)
    assert policy.wait(now=10.05, oldest_arrival=10.0, waiting_rows=3) == 0.0
    assert policy.wait(now=99.0, oldest_arrival=10.0, waiting_rows=1) == 0.0


def test_a_full_batch_flushes_at_once() -> None:
    policy = BatchPolicy(BatchConfig(max_batch_size=4, max_latency_ms=50))
    assert policy.wait(now=10.0, oldest_arrival=10.0, waiting_rows=4) == 0.0
    assert policy.wait(now=10.0, oldest_arrival=10.0, waiting_rows=9) == 0.0


def test_take_fills_up_to_the_row_limit_in_order() -> None:
    policy = BatchPolicy(BatchConfig(max_batch_size=4))
    assert policy.take([1, 1, 1, 1, 1]) == 4
    assert policy.take([2, 1, 2]) == 2
    assert policy.take([3, 2]) == 1
    assert policy.take([9, 1]) == 1  # larger than the limit: runs alone, never starves


def test_config_rejects_nonsense_and_converts_mlserver_seconds() -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        BatchConfig(max_batch_size=0)
    with pytest.raises(ValueError, match="timeout_s"):
        BatchConfig(timeout_s=0)
    assert BatchConfig.from_mlserver(16, 0.25) == BatchConfig(max_batch_size=16, max_latency_ms=250.0)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _doubler(calls: list[list[Any]]) -> Any:
    async def execute(
        payloads: Sequence[Any], counts: Sequence[int], headers: Mapping[str, str]
    ) -> tuple[list[Any], dict[str, str]]:
        calls.append(list(payloads))
        return [2 * p for p in payloads], {"x-batch": str(len(payloads))}

    return execute


async def test_requests_of_one_key_share_a_batch_and_each_gets_its_part() -> None:
    calls: list[list[Any]] = []
    seen: list[tuple[int, float]] = []
    clock = _Clock()
    batcher = Batcher(
        BatchConfig(max_batch_size=3, max_latency_ms=60_000),
        _doubler(calls),
        lambda rows, waits: seen.append((rows, max(waits))),
        clock,
    )
    headers: list[dict[str, str]] = [{} for _ in range(3)]
    tasks = [asyncio.create_task(batcher.submit("k", i, 1, {}, headers[i])) for i in range(3)]
    other = asyncio.create_task(batcher.submit("other-shape", 10, 1, {}))
    clock.now += 0.5
    assert await asyncio.gather(*tasks) == [0, 2, 4]  # full at 3 rows: flushed without waiting
    assert calls == [[0, 1, 2]]
    assert headers == [{"x-batch": "3"}] * 3
    assert seen == [(3, 0.0)]
    assert not other.done() and batcher.waiting == 1  # another key never joins
    other.cancel()


async def test_the_latency_deadline_flushes_a_partial_batch() -> None:
    calls: list[list[Any]] = []
    batcher = Batcher(BatchConfig(max_batch_size=100, max_latency_ms=1), _doubler(calls))
    results = await asyncio.wait_for(asyncio.gather(*(batcher.submit("k", i, 1, {}) for i in range(5))), 30)
    assert results == [0, 2, 4, 6, 8]
    assert sum(len(c) for c in calls) == 5 and len(calls) <= 5


async def test_a_failing_batch_fails_its_callers_only() -> None:
    async def execute(payloads: Sequence[Any], counts: Sequence[int], headers: Any) -> Any:
        if 13 in payloads:
            raise RuntimeError("unlucky batch")
        return list(payloads), {}

    batcher = Batcher(BatchConfig(max_batch_size=2, max_latency_ms=60_000), execute)
    bad = [batcher.submit("k", v, 1, {}) for v in (13, 1)]
    good = [batcher.submit("k", v, 1, {}) for v in (2, 3)]
    outcome = await asyncio.gather(*bad, *good, return_exceptions=True)
    assert [type(x).__name__ for x in outcome[:2]] == ["RuntimeError", "RuntimeError"]
    assert outcome[2:] == [2, 3]


async def test_timeout_answers_504() -> None:
    release = asyncio.Event()

    async def execute(payloads: Sequence[Any], counts: Sequence[int], headers: Any) -> Any:
        await release.wait()
        return list(payloads), {}

    batcher = Batcher(BatchConfig(max_batch_size=1, max_latency_ms=0, timeout_s=0.05), execute)
    with pytest.raises(BatchTimeout, match=r"0\.05 s") as info:
        await batcher.submit("k", 1, 1, {})
    assert info.value.status_code == 504
    release.set()
