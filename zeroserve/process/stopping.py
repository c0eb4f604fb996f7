"""Stops that end: wait for tasks a bounded time, then cancel the rest and say where each one waited.

A component's stop that awaits something which never finishes (a connection nobody closes, a pipe a
child still holds) would hang the whole shutdown. :func:`finish_within` bounds it and leaves a
warning naming the task and the line it was waiting on, so the hang becomes a log line to act on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

__all__ = ["finish_within"]

_CANCEL_WAIT = 5.0
"""Seconds a cancelled task gets to run its cleanup before the stop goes on without it."""


async def finish_within(tasks: Sequence[asyncio.Task[None]], limit: float, log: logging.Logger) -> bool:
    """Wait for ``tasks`` at most ``limit`` seconds; cancel the rest, logging where each one waited.

    Args:
        tasks: the tasks (their names appear in the warnings: name them after what they stop).
        limit: seconds to wait for all of them.
        log: where the warnings go (the caller's logger).

    Returns:
        Whether every task finished in time. A task's failure is logged, never raised.
    """
    if not tasks:
        return True
    _, pending = await asyncio.wait(tasks, timeout=limit)
    for task in pending:
        frames = task.get_stack()
        where = "; ".join(f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}" for f in frames)
        log.warning("%s did not finish within %gs; cancelled (waiting at %s)", task.get_name(), limit, where)
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=_CANCEL_WAIT)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("%s failed: %s", task.get_name(), task.exception())
    return not pending
