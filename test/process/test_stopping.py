"""Bounded stops (``zeroserve.process.stopping``): a stop that never ends is cancelled and says where."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from zeroserve.process.stopping import finish_within


async def test_a_stop_that_never_ends_is_cancelled_and_says_where_it_waited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def stuck() -> None:
        await asyncio.Event().wait()  # nothing ever sets it

    async def quick() -> None:
        await asyncio.sleep(0)

    tasks = [asyncio.create_task(stuck(), name="stop of revision default/stuck")]
    tasks.append(asyncio.create_task(quick()))
    started = time.monotonic()
    log = logging.getLogger("test.stopping")
    with caplog.at_level("WARNING", logger=log.name):
        assert not await finish_within(tasks, 0.3, log)
    assert time.monotonic() - started < 3.0
    assert tasks[0].cancelled() and tasks[1].done() and not tasks[1].cancelled()
    (record,) = [r for r in caplog.records if "did not finish" in r.getMessage()]
    assert "stop of revision default/stuck did not finish within 0.3s" in record.getMessage()
    assert "in stuck" in record.getMessage()


async def test_a_failing_stop_is_logged_and_the_others_still_finish(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("socket already closed")

    async def fine() -> None:
        await asyncio.sleep(0.01)

    log = logging.getLogger("test.stopping")
    tasks = [asyncio.create_task(broken(), name="stop of component broker"), asyncio.create_task(fine())]
    with caplog.at_level("WARNING", logger=log.name):
        assert await finish_within(tasks, 2.0, log)
    assert tasks[1].done() and not tasks[1].cancelled()
    assert [r.getMessage() for r in caplog.records] == [
        "stop of component broker failed: socket already closed"
    ]
