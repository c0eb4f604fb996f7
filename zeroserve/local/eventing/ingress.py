"""The broker's ingress: ``POST /<namespace>/<broker>`` takes a CloudEvent and answers 202 once stored.

Binary and structured CloudEvents are accepted; anything else gets 400 with a message. The
ingress stamps ``knativearrivaltime`` and the loop guard ``knativebrokerttl`` (255 when absent;
an event arriving with a TTL of 0 or less is refused), matches the event against the Broker's
Triggers and writes it with one delivery per match to the :class:`EventStore` — *before*
answering — then wakes the dispatcher.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, generate_latest

from zeroserve.cloudevents import CloudEvent, CloudEventError, decode_http, lower_headers
from zeroserve.local.eventing.store import EventStore
from zeroserve.local.eventing.triggers import TriggerTable

__all__ = ["MAX_TTL", "TTL_ATTRIBUTE", "BrokerIngress", "IngestError"]

log = logging.getLogger("zeroserve.eventing.ingress")

MAX_TTL = 255
TTL_ATTRIBUTE = "knativebrokerttl"
MAX_BODY = 16 * 1024 * 1024


class IngestError(Exception):
    """An event the broker refuses; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BrokerIngress:
    """Accepts events into Brokers (ASGI app and in-process :meth:`ingest` for replies).

    Args:
        table: the Brokers and Triggers.
        store: where accepted events are written.
        wake: called after each accepted event (the dispatcher's wake-up).
        registry: Prometheus registry for the ingress counters.
        now: wall clock in seconds (deliveries are due at this time).
    """

    def __init__(
        self,
        table: TriggerTable,
        store: EventStore,
        *,
        wake: Callable[[], None] = lambda: None,
        registry: CollectorRegistry | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.store = store
        self.wake = wake
        self.registry = registry if registry is not None else CollectorRegistry()
        self._now = now
        self.accepted = Counter(
            "zeroserve_broker_events_accepted", "Events stored by the broker ingress", registry=self.registry
        )
        self.rejected = Counter(
            "zeroserve_broker_events_rejected",
            "Events the ingress refused, by reason",
            ["reason"],
            registry=self.registry,
        )

    async def ingest(self, namespace: str, broker: str, event: CloudEvent) -> int:
        """Stamp, match and durably store an event.

        Args:
            namespace: the Broker's namespace.
            broker: the Broker's name.
            event: the event (changed in place: TTL and arrival time).

        Returns:
            The number of Triggers the event will be delivered to.

        Raises:
            IngestError: when the Broker is unknown or the TTL is spent.
        """
        if not self.table.synced:
            raise IngestError(503, "broker is starting: Triggers not loaded yet")
        if not self.table.has_broker(namespace, broker):
            raise IngestError(404, f"broker {namespace}/{broker} not found or not ready")
        raw_ttl = event.attributes.get(TTL_ATTRIBUTE)
        if raw_ttl is None:
            ttl = MAX_TTL
        else:
            try:
                ttl = int(raw_ttl)
            except ValueError:
                raise IngestError(400, f"{TTL_ATTRIBUTE} must be an integer, got {raw_ttl!r}") from None
        if ttl <= 0:
            raise IngestError(400, f"event {event.id} dropped: {TTL_ATTRIBUTE} exhausted (loop guard)")
        event.attributes[TTL_ATTRIBUTE] = str(ttl)
        now = self._now()
        event.attributes.setdefault(
            "knativearrivaltime", datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
        )
        rules = self.table.matching(namespace, broker, event.all_attributes())
        await self.store.accept(namespace, broker, event, [rule.key for rule in rules], now)
        self.accepted.inc()
        self.wake()
        return len(rules)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if method == "GET" and path in ("/healthz", "/readyz"):
            ready = path == "/healthz" or self.table.synced
            await _answer(send, 200 if ready else 503, {"status": "ok" if ready else "starting"})
            return
        if method == "GET" and path == "/metrics":
            await _raw(send, 200, b"text/plain; version=0.0.4", generate_latest(self.registry))
            return
        parts = [p for p in path.split("/") if p]
        if len(parts) != 2:
            await _answer(send, 404, {"error": "POST events to /<namespace>/<broker>"})
            return
        if method != "POST":
            await _answer(send, 405, {"error": "only POST is accepted"})
            return
        body = await _read_body(receive)
        if body is None:
            self.rejected.labels(reason="too_large").inc()
            await _answer(send, 413, {"error": f"event larger than {MAX_BODY} bytes"})
            return
        try:
            event = decode_http(lower_headers(scope["headers"]), body)
            await self.ingest(parts[0], parts[1], event)
        except CloudEventError as exc:
            self.rejected.labels(reason="not_cloudevent").inc()
            await _answer(send, 400, {"error": str(exc)})
            return
        except IngestError as exc:
            self.rejected.labels(reason=str(exc.status)).inc()
            await _answer(send, exc.status, {"error": exc.message})
            return
        await _raw(send, 202, None, b"")


async def _read_body(receive: Any) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer(send: Any, status: int, doc: object) -> None:
    await _raw(send, status, b"application/json", orjson.dumps(doc))


async def _raw(send: Any, status: int, content_type: bytes | None, body: bytes) -> None:
    headers = [(b"content-type", content_type)] if content_type else []
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
