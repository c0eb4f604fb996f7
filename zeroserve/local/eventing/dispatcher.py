"""The broker's dispatcher: sends stored deliveries to subscribers, retries, dead-letters, re-ingests replies.

Each pending delivery in the :class:`EventStore` is POSTed in binary mode with ``Prefer: reply``
(without the broker-internal ``knativebrokerttl``). Outcomes:

- 2xx: the delivery is closed; when the body is a CloudEvent it is a *reply* and is ingested into
  the originating Broker with the TTL decremented (so reply loops end after 255 hops). The reply is
  stored before the delivery is closed, so a crash in between re-delivers rather than losing it.
- network error, 5xx, 404, 408, 409, 429: retried after the Trigger's backoff while retries remain;
  the next attempt time is stored, so a restart keeps the schedule.
- any other status, or retries exhausted: sent to the Trigger's ``deadLetterSink`` (with
  ``knativeerrordest``, ``knativeerrorcode`` and ``knativeerrordata``) when it has one, with the same
  retries; else (or when the sink fails too) kept in the store as a dead letter: counted in
  ``zeroserve_broker_dead_letters_total{namespace,broker,trigger}`` and
  ``zeroserve_broker_dead_letters_stored``, logged, and listed by the ingress at
  ``GET /<namespace>/<broker>/deadletters``.

Decisions use the injected ``now``; the loop sleeps until the next due delivery or a wake-up.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import time
from collections.abc import Callable

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from zeroserve.cloudevents import CloudEvent, CloudEventError, decode_http, encode_binary, trace_context
from zeroserve.local.eventing.delivery import is_retryable
from zeroserve.local.eventing.ingress import TTL_ATTRIBUTE, BrokerIngress, IngestError
from zeroserve.local.eventing.store import Delivery, EventStore
from zeroserve.local.eventing.triggers import TriggerTable
from zeroserve.process import tracing

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)


class Dispatcher:
    """Delivers the store's pending deliveries, at least once.

    Args:
        store: the durable log.
        table: Triggers (subscriber address and delivery policy are read at each attempt).
        ingress: where replies are re-ingested.
        client: HTTP client for subscribers (its proxy routes cluster addresses via the gateway).
        now: wall clock in seconds.
        concurrency: most deliveries in flight.
        registry: Prometheus registry for delivery counters.
    """

    def __init__(
        self,
        store: EventStore,
        table: TriggerTable,
        ingress: BrokerIngress,
        *,
        client: httpx.AsyncClient,
        now: Callable[[], float] = time.time,
        concurrency: int = 32,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.store = store
        self.table = table
        self.ingress = ingress
        self.client = client
        self._now = now
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        registry = registry if registry is not None else CollectorRegistry()
        self.deliveries = Counter(
            "zeroserve_broker_deliveries",
            "Delivery attempts by outcome: delivered, retried, dead_lettered, failed, dropped",
            ["outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "zeroserve_broker_dead_letters",
            "Events given up on and kept in the broker's dead-letter store, by Trigger",
            ["namespace", "broker", "trigger"],
            registry=registry,
        )
        self.dead_stored = Gauge(
            "zeroserve_broker_dead_letters_stored",
            "Dead letters in the broker's store (GET /<namespace>/<broker>/deadletters lists them)",
            registry=registry,
        )

    async def count_dead_letters(self) -> None:
        """Set ``zeroserve_broker_dead_letters_stored`` from the store (at start and after a purge)."""
        counts = await self.store.counts()
        self.dead_stored.set(sum(n for key, n in counts.items() if key.endswith(":dead")))

    def wake(self) -> None:
        """Look for due deliveries now (after an ingest, a clock change, or a Trigger update)."""
        self._wake.set()

    def start(self) -> None:
        """Start the dispatch loop on the running event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="broker-dispatcher")

    async def stop(self) -> None:
        """Stop the loop and cancel deliveries in flight (they stay pending in the store)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._inflight.clear()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            free = self._concurrency - len(self._inflight)
            if free > 0 and self.table.synced:
                try:
                    batch = await self.store.due(self._now(), free, set(self._inflight))
                except Exception:
                    log.exception("reading due deliveries failed")
                    batch = []
                for delivery in batch:
                    task = asyncio.create_task(self._deliver(delivery))
                    self._inflight[delivery.id] = task
                    task.add_done_callback(functools.partial(self._done, delivery.id))
                if len(batch) == free:
                    continue
            timeout = 1.0  # a completion or an ingest wakes us; this only bounds a missed wake-up
            full = len(self._inflight) >= self._concurrency
            next_at = None if full else await self.store.next_due(set(self._inflight))
            if next_at is not None:
                timeout = min(timeout, max(0.0, next_at - self._now()))
            # asyncio.timeout, not wait_for: Python 3.11's wait_for loses a cancellation that arrives
            # as the wake-up completes, and stop() then waits for this loop forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def _done(self, delivery_id: int, _task: object = None) -> None:
        self._inflight.pop(delivery_id, None)
        self._wake.set()

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            await self._attempt(delivery)
        except asyncio.CancelledError:
            raise
        except Exception:  # the delivery stays pending and is tried again
            log.exception("delivery %d failed unexpectedly", delivery.id)

    async def _attempt(self, delivery: Delivery) -> None:
        rule = self.table.trigger(delivery.trigger)
        if rule is None:
            await self.store.finish(delivery.id, "dropped", None, "trigger deleted")
            self.deliveries.labels(outcome="dropped").inc()
            return
        policy = rule.delivery
        event = CloudEvent(
            dict(delivery.event.attributes), delivery.event.data, delivery.event.datacontenttype
        )
        ttl = int(event.attributes.pop(TTL_ATTRIBUTE, "1") or 1)
        if delivery.target == "deadletter":
            uri = policy.dead_letter_uri
            if uri is None:
                await self._give_up(delivery, event, None, "the dead-letter sink was removed")
                return
            event.attributes["knativeerrordest"] = rule.subscriber_uri
            event.attributes["knativeerrorcode"] = str(delivery.last_status or 0)
            event.attributes["knativeerrordata"] = base64.b64encode(
                (delivery.last_error or "").encode()[:1024]
            ).decode()
        else:
            uri = rule.subscriber_uri
        status = 0
        error = ""
        reply: httpx.Response | None = None
        attributes = {
            "messaging.system": "knative",
            "messaging.destination.name": str(delivery.trigger),
            "url.full": uri,
            "cloudevents.event_type": event.type,
            "cloudevents.event_id": event.id,
        }
        parent = tracing.extract(trace_context(event))
        with tracing.span("broker deliver", kind="producer", attributes=attributes, parent=parent):
            tracing.inject(event.attributes)  # the subscriber continues this delivery's span
            headers, body = encode_binary(event)
            headers.append(("prefer", "reply"))
            try:
                reply = await self.client.post(uri, headers=headers, content=body, timeout=policy.timeout)
                status = reply.status_code
                error = reply.text[:1024] if status >= 300 else ""
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        if 200 <= status < 300:
            if delivery.target == "subscriber" and reply is not None and reply.content:
                await self._reingest(delivery, reply, ttl - 1)
            await self.store.finish(delivery.id, "done", status)
            self.deliveries.labels(outcome="delivered").inc()
            return
        failures = delivery.attempt + 1
        if is_retryable(status) and failures <= policy.retry:
            next_at = self._now() + policy.delay(failures)
            await self.store.retry_later(delivery.id, failures, next_at, status or None, error)
            self.deliveries.labels(outcome="retried").inc()
            return
        if delivery.target == "subscriber" and policy.dead_letter_uri:
            await self.store.dead_letter(delivery.id, status or None, error, self._now())
            self.deliveries.labels(outcome="dead_lettered").inc()
            self.wake()
            return
        await self._give_up(delivery, event, status or None, error or f"HTTP {status}")

    async def _give_up(self, delivery: Delivery, event: CloudEvent, status: int | None, error: str) -> None:
        """Keep a delivery that failed for good in the store's dead-letter store, counted and logged."""
        await self.store.finish(delivery.id, "dead", status, error)
        self.deliveries.labels(outcome="failed").inc()
        self.dead_letters.labels(delivery.namespace, delivery.broker, delivery.trigger).inc()
        self.dead_stored.inc()
        log.warning(
            "event %s (source %s) for Trigger %s kept in the dead-letter store after %d attempts: %s;"
            " list with GET /%s/%s/deadletters on the broker",
            event.id,
            event.attributes.get("source"),
            delivery.trigger,
            delivery.attempt + 1,
            " ".join(error.split())[:200],
            delivery.namespace,
            delivery.broker,
        )

    async def _reingest(self, delivery: Delivery, reply: httpx.Response, ttl: int) -> None:
        headers = {name.lower(): value for name, value in reply.headers.items()}
        try:
            event = decode_http(headers, reply.content)
        except CloudEventError as exc:
            log.info("reply to event %s is not a CloudEvent, ignored: %s", delivery.event.id, exc)
            return
        event.attributes[TTL_ATTRIBUTE] = str(ttl)
        event.attributes.pop("knativearrivaltime", None)
        try:
            await self.ingress.ingest(delivery.namespace, delivery.broker, event)
        except IngestError as exc:
            log.info("reply %s not re-ingested: %s", event.id, exc.message)
