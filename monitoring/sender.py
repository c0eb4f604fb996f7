"""Posts a detector's result CloudEvents to its ``--sink`` off the request path, riding out outages.

Results are few (one per window or per scored request), so one sender posting them one at a time
with httpx is plenty. The policy is the payload logger's: a bounded queue (a full queue drops the
new result, counted as ``queue_full``); network errors, 5xx, 404, 408, 409 and 429 retried with
exponential backoff (``backoff_initial`` doubling up to ``backoff_max``) while the result is
younger than ``max_age`` (then dropped as ``max_age``); other 4xx final (``rejected``). With a
broker token (by default ``$ZEROSERVE_BROKER_TOKEN``) every POST carries
``Authorization: Bearer <token>``. Ages and delays come from the injected ``monotonic`` and
``sleep``, so tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable

import httpx
from prometheus_client import CollectorRegistry, Counter

from zeroserve.cloudevents import CloudEvent, encode_binary

__all__ = ["BROKER_TOKEN_ENV", "ResultSender"]

log = logging.getLogger(__name__)

BROKER_TOKEN_ENV = "ZEROSERVE_BROKER_TOKEN"
"""The environment variable holding the broker ingress's credential (``docs/contracts.md``)."""
_RETRYABLE = frozenset({404, 408, 409, 429})


class ResultSender:
    """A bounded queue of result events and one task that delivers them to ``url``.

    Args:
        url: the sink (a Broker's ingress or any CloudEvents receiver).
        registry: where ``zeroserve_detector_results_total{outcome}`` is registered.
        token: the bearer token; ``$ZEROSERVE_BROKER_TOKEN`` when omitted, none when empty.
        queue_size: most results waiting to be sent.
        max_age: seconds a result is retried before it is dropped.
        backoff_initial: delay before the first retry, in seconds.
        backoff_max: the largest delay between retries, in seconds.
        timeout: seconds for one POST.
        shutdown_timeout: how long :meth:`stop` waits for queued results to be sent.
        transport: HTTP transport (tests may inject one); ``None`` honours ``HTTP_PROXY``.
        sleep: the clock's sleep, for retry delays.
        monotonic: the clock that ages results.
    """

    def __init__(
        self,
        url: str,
        *,
        registry: CollectorRegistry,
        token: str | None = None,
        queue_size: int = 10_000,
        max_age: float = 600.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        timeout: float = 5.0,
        shutdown_timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        token = os.environ.get(BROKER_TOKEN_ENV) if token is None else token
        self._headers = {"authorization": f"Bearer {token}"} if token else {}
        self._queue_size = queue_size
        self._max_age = max_age
        self._backoff = (backoff_initial, backoff_max)
        self._timeout = timeout
        self._shutdown_timeout = shutdown_timeout
        self._transport = transport
        self._sleep = sleep
        self._monotonic = monotonic
        self._queue: deque[tuple[float, CloudEvent]] = deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.results = Counter(
            "zeroserve_detector_results",
            "Result events by outcome: sent, queue_full, max_age, rejected, shutdown",
            ["outcome"],
            registry=registry,
        )

    @property
    def depth(self) -> int:
        """Results waiting to be sent (the one being retried included)."""
        return len(self._queue)

    async def start(self) -> None:
        """Start the sending task on the running loop; a no-op when started."""
        if self._task is not None:
            return
        self._client = httpx.AsyncClient(
            transport=self._transport, timeout=self._timeout, trust_env=self._transport is None
        )
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        if not self._queue:
            self._drained.set()
        self._task = asyncio.create_task(self._run(), name="detector-results")

    def submit(self, event: CloudEvent) -> bool:
        """Queue a result; never blocks.

        Args:
            event: the result event.

        Returns:
            Whether it was queued (``False``: the queue was full, counted as ``queue_full``).
        """
        if len(self._queue) >= self._queue_size:
            self.results.labels(outcome="queue_full").inc()
            return False
        self._queue.append((self._monotonic(), event))
        self._wake.set()
        self._drained.clear()
        return True

    async def stop(self) -> None:
        """Send what is queued (up to ``shutdown_timeout``), then stop; the rest counts as ``shutdown``."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), self._shutdown_timeout)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._queue:
            self.results.labels(outcome="shutdown").inc(len(self._queue))
            log.warning("detector stopped with %d unsent results", len(self._queue))
            self._queue.clear()
        if self._client is not None:
            await self._client.aclose()
        self._task = None
        self._client = None

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            queued, event = self._queue[0]
            await self._deliver(queued, event)
            self._queue.popleft()
            if not self._queue:
                self._drained.set()

    async def _deliver(self, queued: float, event: CloudEvent) -> None:
        """Post one result until the sink takes it, refuses it for good, or it grows too old."""
        assert self._client is not None
        pairs, body = encode_binary(event)
        headers = dict(pairs) | self._headers
        retry = 0
        while True:
            if self._monotonic() - queued > self._max_age:
                self.results.labels(outcome="max_age").inc()
                log.warning("result %s older than %gs dropped, unsent", event.id, self._max_age)
                return
            try:
                status = (await self._client.post(self.url, headers=headers, content=body)).status_code
            except httpx.HTTPError:
                status = 0
            if 200 <= status < 300:
                self.results.labels(outcome="sent").inc()
                return
            if status and status < 500 and status not in _RETRYABLE:
                self.results.labels(outcome="rejected").inc()
                log.warning("sink %s rejected result %s with HTTP %d", self.url, event.id, status)
                return
            retry += 1
            initial, cap = self._backoff
            await self._sleep(min(cap, initial * 2 ** min(retry - 1, 64)))
