"""The poll-with-deadline helpers: the value they return and what a timeout says."""

from __future__ import annotations

import itertools

import pytest

from support.waiting import WaitTimeout, wait_until, wait_until_async


class StepClock:
    """A monotonic clock that advances one second per reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_returns_the_first_truthy_value() -> None:
    values = iter([None, 0, "", {"ready": True}])
    assert wait_until(lambda: next(values), 5, interval=0) == {"ready": True}


def test_exceptions_count_as_not_yet() -> None:
    calls = itertools.count()

    def check() -> str:
        if next(calls) < 2:
            raise KeyError("not created yet")
        return "there"

    assert wait_until(check, 5, interval=0) == "there"


def test_exceptions_outside_retry_on_propagate_at_once() -> None:
    calls = itertools.count()

    def check() -> None:
        next(calls)
        raise PermissionError("403")

    with pytest.raises(PermissionError):
        wait_until(check, 5, interval=0, retry_on=(KeyError,))
    assert next(calls) == 1


def test_timeout_names_what_and_the_last_value() -> None:
    with pytest.raises(WaitTimeout) as info:
        wait_until(lambda: [], 3, what="the predictor's service", interval=0, clock=StepClock())
    message = str(info.value)
    assert "waiting for the predictor's service" in message
    assert "last value []" in message
    assert "timed out after 3s" in message


def test_timeout_names_the_last_exception() -> None:
    def check() -> None:
        raise ConnectionRefusedError("port 1 closed")

    with pytest.raises(WaitTimeout, match=r"last error ConnectionRefusedError: port 1 closed"):
        wait_until(check, 2, what="the server", interval=0, clock=StepClock())


def test_before_each_runs_before_every_poll() -> None:
    steps: list[str] = []
    values = iter([False, False, True])

    def check() -> bool:
        steps.append("check")
        return next(values)

    wait_until(check, 5, interval=0, before_each=lambda: steps.append("sync"))
    assert steps == ["sync", "check"] * 3


async def test_async_accepts_plain_and_async_checks() -> None:
    values = iter([None, 7])
    assert await wait_until_async(lambda: next(values), 5, interval=0) == 7

    polls = itertools.count()

    async def ready() -> int:
        return next(polls)

    assert await wait_until_async(ready, 5, interval=0) == 1


async def test_async_timeout_names_what_and_the_last_exception() -> None:
    async def check() -> None:
        raise RuntimeError("still starting")

    with pytest.raises(WaitTimeout, match=r"waiting for the broker; last error RuntimeError: still starting"):
        await wait_until_async(check, 2, what="the broker", interval=0, clock=StepClock())
