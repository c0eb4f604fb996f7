"""Poll with a deadline: the one way tests wait for something that happens in another thread or process.

``wait_until`` polls a check until it returns something truthy and returns that value; past the
deadline it fails with what it waited for and the last value or exception it saw, so a timeout says
why. ``wait_until_async`` is the same for event-loop code and accepts sync or async checks. Exceptions
from the check count as "not yet" (a server still starting, an object not created yet) unless they
are not of the ``retry_on`` types, which propagate at once.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_INTERVAL = 0.01


class WaitTimeout(AssertionError):
    """The check stayed falsy (or kept raising) until the deadline."""


def _timeout_message(what: str, timeout: float, polls: int, last: Any, error: BaseException | None) -> str:
    seen = f"last error {type(error).__name__}: {error}" if error is not None else f"last value {last!r}"
    return f"timed out after {timeout}s ({polls} polls) waiting for {what}; {seen}"


def wait_until(
    check: Callable[[], T],
    timeout: float = 10.0,
    *,
    what: str = "the condition",
    interval: float = DEFAULT_INTERVAL,
    before_each: Callable[[], object] | None = None,
    retry_on: tuple[type[Exception], ...] = (Exception,),
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Poll ``check`` until it returns something truthy.

    Args:
        check: Called once per poll; an exception it raises counts as "not yet".
        timeout: Seconds from the first poll to give up.
        what: What is awaited, for the failure message ("the predictor's Knative Service").
        interval: Seconds between polls.
        before_each: Called before every poll (e.g. a simulator's ``sync`` step); its exceptions
            propagate.
        retry_on: Exceptions from ``check`` that mean "not yet"; any other propagates at once
            (``()`` lets every exception through).
        clock: Monotonic seconds; tests of this helper pass a fake one.

    Returns:
        The first truthy value ``check`` returned.

    Raises:
        WaitTimeout: Nothing truthy came back in time; the message names ``what`` and the last value
            or exception.
    """
    deadline = clock() + timeout
    polls = 0
    last: Any = None
    error: BaseException | None = None
    while True:
        if before_each is not None:
            before_each()
        polls += 1
        try:
            value = check()
        except retry_on as exc:  # not there yet: remember why
            last, error = None, exc
        else:
            if value:
                return value
            last, error = value, None
        if clock() >= deadline:
            raise WaitTimeout(_timeout_message(what, timeout, polls, last, error)) from error
        time.sleep(interval)


async def wait_until_async(
    check: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,  # noqa: ASYNC109 - the same signature as wait_until; this is the deadline
    *,
    what: str = "the condition",
    interval: float = DEFAULT_INTERVAL,
    retry_on: tuple[type[Exception], ...] = (Exception,),
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Poll ``check`` (a plain or async callable) on the running loop until it returns something truthy.

    Args:
        check: Called once per poll, awaited when it returns an awaitable; an exception counts as
            "not yet".
        timeout: Seconds from the first poll to give up.
        what: What is awaited, for the failure message.
        interval: Seconds between polls (an ``asyncio.sleep``, so the loop keeps running).
        retry_on: Exceptions from ``check`` that mean "not yet"; any other propagates at once.
        clock: Monotonic seconds.

    Returns:
        The first truthy value.

    Raises:
        WaitTimeout: Nothing truthy came back in time.
    """
    deadline = clock() + timeout
    polls = 0
    last: Any = None
    error: BaseException | None = None
    while True:
        polls += 1
        try:
            result = check()
            value = await result if inspect.isawaitable(result) else result
        except retry_on as exc:  # not there yet: remember why
            last, error = None, exc
        else:
            if value:
                return value  # type: ignore[return-value]
            last, error = value, None
        if clock() >= deadline:
            raise WaitTimeout(_timeout_message(what, timeout, polls, last, error)) from error
        await asyncio.sleep(interval)
