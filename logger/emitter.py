"""The payload logger's delivery engine: a bounded queue drained by a small pool of async senders.

Guarantee: an event the queue accepted is retried until the sink takes it, unless it grows older
than ``max_age`` (default 10 minutes), the sink refuses it for good (a 4xx other than 404, 408,
409 or 429), or the process stops; every event given up on is counted by reason.

Policy (what KServe's logger lacks, kserve#6167 / #6193):

- :meth:`PayloadLogger.submit` never blocks and never awaits: it puts the event on a queue bounded
  both in events (``queue_size``) and in payload bytes (``queue_max_bytes``). When either bound
  would be exceeded the *new* event is dropped and counted
  (``zeroserve_logger_events_dropped{reason="queue_full"}``), so memory stays bounded and
  predictions are never slowed by a slow or dead sink.
- ``workers`` senders take turns gathering up to ``batch_size`` queued events (waiting at most
  ``batch_linger`` for a batch to build up) and send each batch pipelined on one keep-alive
  connection (plain ``http`` sinks; ``https`` goes through httpx one by one), so
  the per-event cost stays small next to a prediction. A send is retried on network errors and on
  the statuses Knative retries (5xx, 404, 408, 409, 429) with capped exponential backoff
  (``backoff_initial`` doubling up to ``backoff_max``) for as long as the event is younger than
  ``max_age``; an older one is dropped as ``max_age`` (and, only when ``max_attempts`` is set,
  one tried that often as ``retries_exhausted``). Other 4xx answers are final (``rejected``).
  Ages and delays are read from the injected ``monotonic`` clock and ``sleep``.
- :meth:`PayloadLogger.stop` flushes: it waits up to ``shutdown_timeout`` for the queue to drain;
  what is still unsent then is counted as ``shutdown``.
- With ``broker_token`` set (by default from ``$ZEROSERVE_BROKER_TOKEN``) every POST carries
  ``Authorization: Bearer <token>``.

A retry after a lost answer may repeat an event the sink already took (receivers de-duplicate on
``ce-id``); the queue lives in memory, so for delivery that survives a crash of the model server
point the logger at a Broker, which stores each event before it acknowledges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from zeroserve.cloudevents import CloudEvent, encode_binary
from zeroserve.logger.config import LoggerConfig
from zeroserve.logger.encoding import TYPES, EventTemplate
from zeroserve.logger.http1 import Http1Client, env_proxy_for
from zeroserve.logger.metrics import LoggerMetrics
from zeroserve.process import tracing

__all__ = ["RETRYABLE_STATUS", "PayloadLogger", "retry_delay"]

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({404, 408, 409, 429})
"""Client-error statuses retried (as Knative's dispatcher does); every 5xx is retried too."""

Sleep = Callable[[float], Awaitable[None]]
_Queued = tuple[str, str, int, Any, float]
"""A queued event: ``(type, id, payload size, request, when queued)``, the request already encoded
and the time read from the ``monotonic`` clock."""


def retry_delay(retry: int, initial: float, cap: float) -> float:
    """Delay before retry number ``retry`` (1 for the first retry): exponential, capped.

    Args:
        retry: which retry is about to happen, starting at 1.
        initial: the delay before the first retry, in seconds.
        cap: the largest delay, in seconds.

    Returns:
        ``min(cap, initial * 2 ** (retry - 1))`` (the exponent stops growing at 64).
    """
    return float(min(cap, initial * (2 ** min(max(0, retry - 1), 64))))


def is_retryable(status: int) -> bool:
    """Whether a sink's HTTP status is worth another try."""
    return status >= 500 or status in RETRYABLE_STATUS


class PayloadLogger:
    """Sends CloudEvents to one sink, off the request path.

    Args:
        config: sink URL, queue bounds, retry policy.
        registry: Prometheus registry for the logger's metrics; a private one when omitted.
        transport: HTTP transport for the sink (tests and the sidecar may inject one).
        sleep: the clock's sleep for retry delays, injected so retry tests need not wait.
        monotonic: the clock that ages events and times sends (the same clock as ``sleep``).
    """

    def __init__(
        self,
        config: LoggerConfig,
        *,
        registry: CollectorRegistry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.metrics = LoggerMetrics(registry if registry is not None else CollectorRegistry())
        self._transport = transport
        self._sleep = sleep
        self._monotonic = monotonic
        self._buffer: deque[_Queued] = deque()
        self._ready = asyncio.Event()
        """Set while the buffer holds events (wakes the collecting sender)."""
        self._drained = asyncio.Event()
        """Set when every submitted event is finished (sent or given up): what ``stop`` waits for."""
        self._unfinished = 0
        self._in_flight = 0
        """Events taken from the queue by senders and not finished yet (counted on a forced stop)."""
        self._queued_bytes = 0
        self._workers: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self._fast: Http1Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._template = EventTemplate(config)
        self._collecting = asyncio.Lock()
        self.metrics.queue_depth.set_function(lambda: self.depth)
        self.metrics.queue_bytes.set_function(lambda: self._queued_bytes)

    def count_drop(self, reason: str, events: int = 1) -> None:
        """Count events given up on (``zeroserve_logger_events_dropped_total{reason}``)."""
        self.metrics.dropped[reason] += events

    @property
    def started(self) -> bool:
        return self._loop is not None

    @property
    def depth(self) -> int:
        """Events waiting in the queue."""
        return len(self._buffer)

    async def start(self) -> None:
        """Start the senders on the running event loop; a no-op when already started."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._buffer = deque()
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._unfinished = 0
        self._collecting = asyncio.Lock()
        config = self.config
        workers = config.workers
        url = config.url
        headers = [("authorization", f"Bearer {config.broker_token}")] if config.broker_token else []
        if self._transport is None and url.startswith("http://"):
            proxy = config.proxy if config.proxy is not None else env_proxy_for(url)
            self._fast = Http1Client(
                url, proxy=proxy, timeout=config.send_timeout, max_idle=workers, headers=headers
            )
            self._template = EventTemplate(config, self._fast.prefix)
        else:
            limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
            self._client = httpx.AsyncClient(
                transport=self._transport,
                proxy=config.proxy,
                timeout=config.send_timeout,
                limits=limits,
                headers=headers,
                trust_env=self._transport is None,
            )
        self._workers = [
            asyncio.create_task(self._run_worker(), name=f"payload-logger-{i}")
            for i in range(self.config.workers)
        ]

    def submit(self, event: CloudEvent) -> bool:
        """Queue an event for sending; never blocks.

        Args:
            event: the CloudEvent; its ``type`` labels the metrics.

        Returns:
            Whether the event was queued (``False``: dropped and counted).
        """
        if not self._admits(len(event.data)):
            return False
        # Encoded now: the queue then holds only strings and bytes, which the garbage collector
        # never has to traverse however long the queue grows.
        self._enqueue(event.type, event.id, len(event.data), self._encode(event))
        return True

    def log(
        self,
        kind: int,
        event_id: str,
        time_ns: int,
        status: int,
        body: bytes,
        content_type: str,
        metadata: str | None,
    ) -> bool:
        """Queue one of KServe's payload events, built from its raw parts; never blocks.

        The request path's way in (:class:`~zeroserve.logger.middleware.PayloadLoggerMiddleware`):
        no :class:`CloudEvent` is built, the request bytes come from the component's
        :class:`~zeroserve.logger.encoding.EventTemplate`.

        Args:
            kind: :data:`~zeroserve.logger.encoding.KIND_REQUEST` or ``KIND_RESPONSE``.
            event_id: the ``ce-id`` shared by the request and response events.
            time_ns: the event's time, in nanoseconds since the epoch.
            status: the response's HTTP status (``statuscode``); ignored for requests.
            body: the request or response body, unchanged.
            content_type: the request's content type (``datacontenttype`` of both events).
            metadata: the ``metadata`` extension, or ``None``.

        Returns:
            Whether the event was queued (``False``: dropped and counted).
        """
        size = len(body)
        if not self._admits(size):
            return False
        template = self._template
        if tracing.on:  # the event carries the emit span as its traceparent extension
            attributes = {"cloudevents.event_type": TYPES[kind], "cloudevents.event_id": event_id}
            with tracing.span("payload-logger emit", kind="producer", attributes=attributes):
                event = template.event(kind, event_id, time_ns, status, body, content_type, metadata)
                tracing.inject(event.attributes)
                self._enqueue(TYPES[kind], event_id, size, self._encode(event))
            return True
        if self._fast is not None:
            request: Any = template.request(kind, event_id, time_ns, status, body, content_type, metadata)
        else:
            event = template.event(kind, event_id, time_ns, status, body, content_type, metadata)
            request = encode_binary(event)
        self._enqueue(TYPES[kind], event_id, size, request)
        return True

    def _admits(self, size: int) -> bool:
        """Whether an event of ``size`` payload bytes fits now; counts the drop when it does not."""
        if self._loop is None or self._stopping:
            self.metrics.dropped["shutdown"] += 1
            return False
        if size > self.config.max_payload_bytes:
            self.metrics.dropped["too_large"] += 1
            return False
        config = self.config
        if len(self._buffer) >= config.queue_size or self._queued_bytes + size > config.queue_max_bytes:
            self.metrics.dropped["queue_full"] += 1
            return False
        return True

    def _enqueue(self, event_type: str, event_id: str, size: int, request: Any) -> None:
        self._buffer.append((event_type, event_id, size, request, self._monotonic()))
        self._queued_bytes += size
        self._unfinished += 1
        if not self._ready.is_set():
            self._ready.set()
        if self._drained.is_set():
            self._drained.clear()
        self.metrics.queued[event_type] += 1

    async def stop(self) -> None:
        """Flush what is queued (up to ``shutdown_timeout``), then stop the senders; safe to call twice."""
        if self._loop is None:
            return
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), timeout=self.config.shutdown_timeout)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        left = len(self._buffer) + self._in_flight
        if left:
            self.count_drop("shutdown", left)
            log.warning("payload logger stopped with %d unsent events", left)
        if self._client is not None:
            await self._client.aclose()
        if self._fast is not None:
            await self._fast.aclose()
        self._workers = []
        self._client = None
        self._fast = None
        self._buffer = deque()
        self._unfinished = 0
        self._in_flight = 0
        self._queued_bytes = 0
        self._loop = None

    async def _run_worker(self) -> None:
        buffer = self._buffer
        limit = self.config.batch_size
        linger = self.config.batch_linger
        while True:
            async with self._collecting:  # one sender gathers a batch while the others send theirs
                while not buffer:
                    self._ready.clear()
                    await self._ready.wait()
                if linger > 0 and len(buffer) < limit:
                    await asyncio.sleep(linger)  # not a retry delay: lets a batch build up
                batch = [buffer.popleft() for _ in range(min(limit, len(buffer)))]
            taken = len(batch)
            size = sum(item[2] for item in batch)
            self._in_flight += taken
            try:
                await self._deliver(batch)
            except asyncio.CancelledError:
                raise
            except Exception:  # a sender must survive any batch
                log.exception("payload logger failed to deliver %d events", len(batch))
                self.count_drop("send_error", len(batch))
                batch.clear()
            finally:
                # Cancelled by ``stop``: the events left in ``batch`` stay in flight, counted there.
                self._in_flight -= taken - len(batch)
                self._queued_bytes -= size
                self._unfinished -= taken
                if self._unfinished == 0:
                    self._drained.set()

    def _encode(self, event: CloudEvent) -> Any:
        return self._fast.encode_event(event) if self._fast is not None else encode_binary(event)

    async def _post_all(self, requests: list[Any]) -> list[int]:
        """Statuses of the requests (0: no answer); pipelined on one connection on the fast path."""
        if self._fast is not None:
            return await self._fast.post_many(requests)
        assert self._client is not None
        statuses = []
        for headers, body in requests:
            try:
                response = await self._client.post(self.config.url, headers=headers, content=body)
                statuses.append(response.status_code)
            except httpx.HTTPError:
                statuses.append(0)
        return statuses

    async def _deliver(self, batch: list[_Queued]) -> None:
        """Send ``batch`` until each of its events is finished; the list keeps the unfinished ones.

        Failed sends are retried after :func:`retry_delay` while an event is younger than
        ``max_age`` (and, when set, tried fewer than ``max_attempts`` times).
        """
        config = self.config
        sent = self.metrics.sent
        attempt = 0
        failure = 0
        while True:
            self._expire(batch, self._monotonic())
            if not batch:
                return
            started = self._monotonic()
            statuses = await self._post_all([item[3] for item in batch])
            self.metrics.send_latency.observe(max(0.0, self._monotonic() - started))
            attempt += 1
            retry = []
            for item, status in zip(batch, statuses, strict=True):
                if 200 <= status < 300:
                    sent[item[0]] += 1
                elif status and not is_retryable(status):
                    self.count_drop("rejected")
                    log.warning("sink %s rejected event %s with HTTP %d", config.url, item[1], status)
                else:
                    failure = status
                    retry.append(item)
            batch[:] = retry
            if not retry:
                return
            if config.max_attempts is not None and attempt >= config.max_attempts:
                self.count_drop("retries_exhausted", len(retry))
                log.warning(
                    "giving up on %d events after %d attempts to %s (%s)",
                    len(retry),
                    attempt,
                    config.url,
                    f"HTTP {failure}" if failure else "no answer",
                )
                batch.clear()
                return
            retried = self.metrics.retried
            for item in retry:
                retried[item[0]] += 1
            await self._sleep(retry_delay(attempt, config.backoff_initial, config.backoff_max))

    def _expire(self, batch: list[_Queued], now: float) -> None:
        """Drop (and count as ``max_age``) the events of ``batch`` older than ``max_age`` at ``now``."""
        oldest = now - self.config.max_age
        if batch[0][4] >= oldest:
            return  # a batch keeps queue order: its first event is its oldest
        young = [item for item in batch if item[4] >= oldest]
        expired = len(batch) - len(young)
        if expired:
            batch[:] = young
            self.count_drop("max_age", expired)
            config = self.config
            log.warning("dropped %d events older than %gs, unsent to %s", expired, config.max_age, config.url)
