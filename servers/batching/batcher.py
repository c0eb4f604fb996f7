"""The asyncio side of adaptive batching: per-key queues, a timer, and one task per batch.

:class:`Batcher` serves one model. Callers :meth:`~Batcher.submit` a payload with its
:func:`~zeroserve.servers.batching.rows.batch_key`; payloads of one key wait in a queue until
:class:`~zeroserve.servers.batching.policy.BatchPolicy` says flush (a full batch, or the oldest
waited ``max_latency``). A flushed batch runs as its own task through the ``execute`` callback
(join, ``preprocess -> predict -> postprocess``, split) and each caller's future receives its own
part, or the batch's error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any

from zeroserve.servers.batching.policy import BatchConfig, BatchPolicy
from zeroserve.servers.errors import ServingError

__all__ = ["BatchTimeout", "Batcher", "Execute", "Failed", "Observe"]

_log = logging.getLogger(__name__)

Execute = Callable[
    [Sequence[Any], Sequence[int], Sequence[Mapping[str, str]]], Awaitable[tuple[list[Any], dict[str, str]]]
]
"""``(payloads, rows_each, headers_each) -> (answers, response_headers)``: runs one batch; an answer
that is a :class:`Failed` is that caller's error."""

Observe = Callable[[int, Sequence[float]], None]
"""``(rows_in_batch, seconds_each_request_waited)``: called as each batch is flushed."""


class Failed:
    """One caller's error inside an otherwise answered batch."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class BatchTimeout(ServingError):
    """A batched request got no answer within the batcher's ``timeout``."""

    status_code = 504
    grpc_code = "DEADLINE_EXCEEDED"


class _Entry:
    __slots__ = ("arrival", "future", "headers", "payload", "response_headers", "rows")

    def __init__(
        self,
        payload: Any,
        rows: int,
        arrival: float,
        future: asyncio.Future[Any],
        headers: Mapping[str, str],
        response_headers: dict[str, str] | None,
    ) -> None:
        self.payload = payload
        self.rows = rows
        self.arrival = arrival
        self.future = future
        self.headers = headers
        self.response_headers = response_headers


class _Queue:
    __slots__ = ("entries", "rows", "timer")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.rows = 0
        self.timer: asyncio.TimerHandle | None = None


class Batcher:
    """Collects one model's requests into batches.

    Args:
        config: the model's batching settings.
        execute: runs one batch (see :data:`Execute`).
        observe: told the size of each batch and how long its requests waited.
        clock: monotonic seconds (the event loop's clock by default).
    """

    def __init__(
        self,
        config: BatchConfig,
        execute: Execute,
        observe: Observe | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.policy = BatchPolicy(config)
        self._execute = execute
        self._observe = observe
        self._clock = clock
        self._queues: dict[Hashable, _Queue] = {}
        self._running: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Requests queued and not yet flushed."""
        return sum(len(q.entries) for q in self._queues.values())

    async def submit(
        self,
        key: Hashable,
        payload: Any,
        rows: int,
        headers: Mapping[str, str],
        response_headers: dict[str, str] | None = None,
    ) -> Any:
        """Queue ``payload`` and return this caller's part of its batch's answer.

        Args:
            key: the payload's batch key; only payloads of equal keys are joined.
            payload: the decoded request.
            rows: its rows (first-dimension entries).
            headers: its request headers (the first caller's reach the model's hooks).
            response_headers: filled with the batch's response headers.

        Raises:
            BatchTimeout: no answer within ``config.timeout_s``.
            Exception: whatever running the batch raised.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
        queue.entries.append(_Entry(payload, rows, self._clock(), future, headers, response_headers))
        queue.rows += rows
        self._schedule(key, queue, loop)
        timeout = self.config.timeout_s
        if timeout is None:
            return await future
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            future.cancel()
            raise BatchTimeout(f"no answer from the batched model within {timeout:g} s") from None

    def _schedule(self, key: Hashable, queue: _Queue, loop: asyncio.AbstractEventLoop) -> None:
        while queue.entries:
            wait = self.policy.wait(self._clock(), queue.entries[0].arrival, queue.rows)
            if wait > 0.0:
                if queue.timer is None:
                    queue.timer = loop.call_later(wait, self._on_timer, key, queue, loop)
                return
            count = self.policy.take([e.rows for e in queue.entries])
            batch = queue.entries[:count]
            del queue.entries[:count]
            queue.rows -= sum(e.rows for e in batch)
            if queue.timer is not None:  # the oldest request changed: so does the deadline
                queue.timer.cancel()
                queue.timer = None
            task = loop.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        if self._queues.get(key) is queue:
            del self._queues[key]

    def _on_timer(self, key: Hashable, queue: _Queue, loop: asyncio.AbstractEventLoop) -> None:
        queue.timer = None
        self._schedule(key, queue, loop)

    async def _run(self, batch: list[_Entry]) -> None:
        flushed = self._clock()
        live = [e for e in batch if not e.future.done()]  # a caller that gave up does not run
        if self._observe is not None and live:
            self._observe(sum(e.rows for e in live), [flushed - e.arrival for e in live])
        if not live:
            return
        try:
            answers, response_headers = await self._execute(
                [e.payload for e in live], [e.rows for e in live], [e.headers for e in live]
            )
        except Exception as exc:
            for entry in live:
                if not entry.future.done():
                    entry.future.set_exception(exc)
            return
        except asyncio.CancelledError:
            for entry in live:
                entry.future.cancel()
            raise
        for entry, answer in zip(live, answers, strict=True):
            if entry.future.done():
                continue
            if isinstance(answer, Failed):
                entry.future.set_exception(answer.error)
                continue
            if response_headers and entry.response_headers is not None:
                entry.response_headers.update(response_headers)
            entry.future.set_result(answer)
