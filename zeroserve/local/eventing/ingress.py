"""The broker's ingress: ``POST /<namespace>/<broker>`` takes a CloudEvent and answers 202 once stored.

Binary and structured CloudEvents are accepted; anything else gets 400 with a message. Only the
platform's components get in: a POST needs ``Authorization: Bearer <token>`` with one of the
ingress's tokens (the platform's broker token, which instances get as ``ZEROSERVE_BROKER_TOKEN``, or
the API server's kubeconfig token), else 401; so does ``GET /<namespace>/<broker>/deadletters``, which
lists the events the broker gave up on (its dead-letter store, newest first, as structured
CloudEvents with the Trigger, attempts and last error). ``/healthz``, ``/readyz`` and ``/metrics``
are open.
The ingress stamps ``knativearrivaltime`` and the loop guard ``knativebrokerttl`` (255 when absent;
an event arriving with a TTL of 0 or less is refused), matches the event against the Broker's
Triggers and writes it with one delivery per match to the :class:`EventStore` — *before*
answering — then wakes the dispatcher.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime

import orjson
from prometheus_client import CollectorRegistry, Counter, generate_latest

from zeroserve.cloudevents import CloudEvent, CloudEventError, decode_http, encode_structured, lower_headers
from zeroserve.local.eventing.store import EventStore
from zeroserve.local.eventing.triggers import TriggerTable
from zeroserve.process.asgi import (
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    read_body,
    respond,
    respond_json,
    serve_lifespan,
)

__all__ = ["MAX_TTL", "TTL_ATTRIBUTE", "BrokerIngress", "IngestError"]

log = logging.getLogger(__name__)

MAX_TTL = 255
TTL_ATTRIBUTE = "knativebrokerttl"
MAX_BODY = 16 * 1024 * 1024
_UNAUTHORIZED = "the broker needs 'Authorization: Bearer <token>' with the platform's broker token"


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
        tokens: the bearer tokens a POST may present; ``None`` lets every caller in (in-process use).
    """

    def __init__(
        self,
        table: TriggerTable,
        store: EventStore,
        *,
        wake: Callable[[], None] = lambda: None,
        registry: CollectorRegistry | None = None,
        now: Callable[[], float] = time.time,
        tokens: Collection[str] | None = None,
    ) -> None:
        self.table = table
        self._tokens = None if tokens is None else [t.encode() for t in tokens if t]
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

    def authorized(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether a request's ``Authorization: Bearer`` token is one of the ingress's tokens."""
        if self._tokens is None:
            return True
        value = next((v for k, v in headers if k.lower() == b"authorization"), b"")
        scheme, _, token = value.strip().partition(b" ")
        if scheme.lower() != b"bearer" or not token.strip():
            return False
        token = token.strip()
        return any(hmac.compare_digest(token, known) for known in self._tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if method == "GET" and path in ("/healthz", "/readyz"):
            ready = path == "/healthz" or self.table.synced
            await respond_json(send, 200 if ready else 503, {"status": "ok" if ready else "starting"})
            return
        if method == "GET" and path == "/metrics":
            body = generate_latest(self.registry)
            await respond(send, 200, body, content_type=b"text/plain; version=0.0.4")
            return
        parts = [p for p in path.split("/") if p]
        if len(parts) == 3 and parts[2] == "deadletters" and method == "GET":
            if not self.authorized(scope["headers"]):
                await self._unauthorized(send)
                return
            await respond_json(send, 200, {"items": await self._dead_letters(parts[0], parts[1])})
            return
        if len(parts) != 2:
            await respond_json(send, 404, {"error": "POST events to /<namespace>/<broker>"})
            return
        if method != "POST":
            await respond_json(send, 405, {"error": "only POST is accepted"}, [(b"allow", b"POST")])
            return
        if not self.authorized(scope["headers"]):
            self.rejected.labels(reason="unauthorized").inc()
            await self._unauthorized(send)
            return
        try:
            body = await read_body(receive, MAX_BODY)
        except BodyTooLarge:
            self.rejected.labels(reason="too_large").inc()
            await respond_json(send, 413, {"error": f"event larger than {MAX_BODY} bytes"})
            return
        except ClientDisconnected:
            return
        try:
            event = decode_http(lower_headers(scope["headers"]), body)
            await self.ingest(parts[0], parts[1], event)
        except CloudEventError as exc:
            self.rejected.labels(reason="not_cloudevent").inc()
            await respond_json(send, 400, {"error": str(exc)})
            return
        except IngestError as exc:
            self.rejected.labels(reason=str(exc.status)).inc()
            await respond_json(send, exc.status, {"error": exc.message})
            return
        await respond(send, 202)

    async def _unauthorized(self, send: Send) -> None:
        challenge = [(b"www-authenticate", b'Bearer realm="zeroserve-broker"')]
        await respond_json(send, 401, {"error": _UNAUTHORIZED}, challenge)

    async def _dead_letters(self, namespace: str, broker: str) -> list[dict[str, object]]:
        items: list[dict[str, object]] = []
        for letter in await self.store.dead_letters(namespace, broker):
            _, body = encode_structured(letter.event)
            items.append(
                {
                    "trigger": letter.trigger,
                    "attempts": letter.attempts,
                    "lastStatus": letter.last_status,
                    "lastError": letter.last_error,
                    "acceptedAt": datetime.fromtimestamp(letter.accepted_at, UTC)
                    .isoformat()
                    .replace("+00:00", "Z"),
                    "event": orjson.loads(body),
                }
            )
        return items
