"""The work queue: dedup, per-key serialization, delays and backoff on a fake clock."""

from __future__ import annotations

import threading

import pytest

from zeroserve.controller.queue import ExponentialBackoff, WorkQueue

from .conftest import FakeClock


def test_adds_coalesce_and_order_is_fifo(clock: FakeClock) -> None:
    q: WorkQueue[str] = WorkQueue(clock.monotonic)
    for key in ("a", "b", "a", "c", "b"):
        q.add(key)
    assert len(q) == 3
    assert [q.get(0), q.get(0), q.get(0)] == ["a", "b", "c"]
    assert q.get(0) is None


def test_key_in_processing_is_not_handed_out_twice(clock: FakeClock) -> None:
    q: WorkQueue[str] = WorkQueue(clock.monotonic)
    q.add("a")
    assert q.get(0) == "a"
    q.add("a")  # an event while a worker holds the key
    assert q.get(0) is None, "a second worker must not get the key being processed"
    q.done("a")
    assert q.get(0) == "a", "the key comes back once the first worker is done"
    q.done("a")
    assert q.get(0) is None


def test_add_after_waits_for_the_clock(clock: FakeClock) -> None:
    q: WorkQueue[str] = WorkQueue(clock.monotonic)
    q.add_after("a", 5)
    assert q.get(0) is None
    clock.advance(4.9)
    assert q.get(0) is None
    clock.advance(0.2)
    assert q.get(0) == "a"


@pytest.mark.parametrize(("failures", "delay"), [(0, 0.05), (1, 0.1), (3, 0.4), (20, 60.0), (500, 60.0)])
def test_backoff_is_exponential_and_capped(failures: int, delay: float) -> None:
    assert ExponentialBackoff(base=0.05, cap=60).delay(failures) == pytest.approx(delay)


def test_rate_limited_retries_back_off_until_forgotten(clock: FakeClock) -> None:
    q: WorkQueue[str] = WorkQueue(clock.monotonic, ExponentialBackoff(base=1, cap=100))
    assert [q.add_rate_limited("a") for _ in range(3)] == [1, 2, 4]
    assert q.failures("a") == 3
    q.forget("a")
    assert q.failures("a") == 0
    assert q.add_rate_limited("a") == 1


def test_shutdown_wakes_a_blocked_get() -> None:
    q: WorkQueue[str] = WorkQueue()
    got: list[str | None] = []
    started = threading.Event()

    def worker() -> None:
        started.set()
        got.append(q.get())

    t = threading.Thread(target=worker)
    t.start()
    started.wait(5)
    q.shutdown()
    t.join(5)
    assert not t.is_alive()
    assert got == [None]


def test_blocked_get_wakes_on_add() -> None:
    q: WorkQueue[str] = WorkQueue()
    got: list[str | None] = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=10)))
    t.start()
    q.add("x")
    t.join(10)
    assert got == ["x"]
