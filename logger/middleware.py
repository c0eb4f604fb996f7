"""An ASGI middleware that logs inference requests and responses as KServe CloudEvents.

``PayloadLoggerMiddleware(app, config)`` wraps any ASGI app (our model servers' V1 / V2 REST apps,
the router, the logger-agent proxy). For every ``POST`` (optionally only under
``config.log_paths_prefixes``) it copies the request body as it streams to the app and the
response body as the app sends it, then hands the events to a :class:`PayloadLogger` — a
non-blocking queue put, so the prediction path never waits for the sink. ``GET`` requests
(health, metadata, ``/metrics``) are never logged.

Senders start on ASGI ``lifespan.startup`` (or lazily on the first request when the server runs
without lifespan) and are flushed on ``lifespan.shutdown`` or :meth:`PayloadLoggerMiddleware.aclose`.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from zeroserve.logger.config import LoggerConfig
from zeroserve.logger.emitter import PayloadLogger
from zeroserve.logger.encoding import KIND_REQUEST, KIND_RESPONSE
from zeroserve.logger.events import metadata_attribute
from zeroserve.process import tracing
from zeroserve.process.asgi import Message, Receive, Scope, Send

__all__ = ["EventIds", "PayloadLoggerMiddleware"]

ASGIApp = Callable[[Scope, Receive, Send], Any]


class EventIds:
    """New event ids in the UUID format: a random part drawn once per process, then a sequence.

    ``xxxxxxxx-xxxx-4xxx-yxxx-`` (74 random bits, version 4 and variant bits set) followed by a
    48-bit counter that starts at a random value. Ids are unique within a process by the counter
    and across processes by the random part, and cost no system call each (``uuid.uuid4()``
    reads the kernel's random source for every id). The random part is drawn again in a forked
    child, so two processes never share it.
    """

    __slots__ = ("__weakref__", "_next", "_prefix")

    def __init__(self) -> None:
        self._prefix = ""
        self._next = 0
        self._draw()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: EventIds._redraw(ref))

    @staticmethod
    def _redraw(ref: weakref.ref[EventIds]) -> None:
        ids = ref()
        if ids is not None:
            ids._draw()

    def _draw(self) -> None:
        raw = bytearray(os.urandom(16))
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        h = raw.hex()
        self._prefix = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-"
        self._next = int(h[20:], 16)

    def __call__(self) -> str:
        """The next id."""
        n = self._next
        self._next = (n + 1) & 0xFFFF_FFFF_FFFF
        return f"{self._prefix}{n:012x}"


class _Exchange:
    """One logged request and its response: copies both bodies as they stream, then logs them.

    A body that grows past ``max_payload_bytes`` is discarded and its event counted as
    ``too_large``. The request event is logged once the whole request body has been read (or
    with the response, for an app that answers without reading it all); the response event once
    the last body message has been sent, or with status 500 when the app fails.
    """

    __slots__ = (
        "_receive",
        "_send",
        "arrived",
        "content_type",
        "event_id",
        "logger",
        "metadata",
        "middleware",
        "request_body",
        "request_done",
        "response_body",
        "response_done",
        "status",
    )

    def __init__(
        self,
        middleware: PayloadLoggerMiddleware,
        receive: Receive,
        send: Send,
        event_id: str,
        content_type: str,
        metadata: str | None,
    ) -> None:
        self.middleware = middleware
        self.logger = middleware.logger
        self._receive = receive
        self._send = send
        self.event_id = event_id
        self.content_type = content_type
        self.metadata = metadata
        self.arrived = middleware.clock()
        self.request_body: bytes | list[bytes] | None = b""
        self.response_body: bytes | list[bytes] | None = b""
        self.status = 500
        self.request_done = False
        self.response_done = False

    async def receive(self) -> Message:
        message: Message = await self._receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                self.request_body = self.middleware.append(self.request_body, chunk)
            if not message.get("more_body", False):
                self.log_request()
        return message

    def send(self, message: Message) -> Any:
        """Note the message, then hand it on: returns the server's own ``send`` awaitable.

        A plain function rather than a coroutine saves a coroutine per message. The response
        event is therefore queued as the last body message is handed to the server, not after
        the server has written it: a client that disconnects still gets its response logged.
        """
        kind = message["type"]
        if kind == "http.response.body":
            chunk = message.get("body", b"")
            if chunk:
                self.response_body = self.middleware.append(self.response_body, chunk)
            if not message.get("more_body", False):
                self.log_response()
        elif kind == "http.response.start":
            self.status = int(message["status"])
        return self._send(message)

    def log_request(self) -> None:
        if self.request_done:
            return
        self.request_done = True
        if self.middleware.logs_request:
            self._log(KIND_REQUEST, self.arrived, self.request_body)

    def log_response(self) -> None:
        if self.response_done:
            return
        self.response_done = True
        self.log_request()  # a request the app answered before reading it all is still logged
        if self.middleware.logs_response:
            self._log(KIND_RESPONSE, self.middleware.clock(), self.response_body)

    def _log(self, kind: int, time_ns: int, body: bytes | list[bytes] | None) -> None:
        if body is None:
            self.logger.count_drop("too_large")
            return
        if not isinstance(body, bytes):
            body = b"".join(body)
        self.logger.log(kind, self.event_id, time_ns, self.status, body, self.content_type, self.metadata)


class PayloadLoggerMiddleware:
    """Wraps an ASGI app so its inferences are logged as CloudEvents.

    Args:
        app: the ASGI app to wrap.
        config: sink, mode, component identity and queue/retry settings.
        registry: Prometheus registry for the logger's metrics (the server's own, so they appear on
            its ``/metrics``); a private one when omitted.
        transport: HTTP transport for the sink, for tests and custom networking.
        clock: wall clock for the events' ``time`` attribute, in nanoseconds since the epoch.
        logger: an already built :class:`PayloadLogger` to use instead of building one.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: LoggerConfig,
        *,
        registry: CollectorRegistry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], int] = time.time_ns,
        logger: PayloadLogger | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.logger = logger or PayloadLogger(config, registry=registry, transport=transport)
        self.clock = clock
        self.logs_request = config.mode.logs_request
        self.logs_response = config.mode.logs_response
        self._limit = config.max_payload_bytes
        self._prefixes = config.log_paths_prefixes
        self._metadata_names = frozenset(name.lower() for name in config.metadata_headers)
        self._new_id = EventIds()

    async def aclose(self) -> None:
        """Flush queued events and stop the senders (for servers that do not run ASGI lifespan)."""
        await self.logger.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if scope["type"] != "http" or not self._logged(scope):
            await self.app(scope, receive, send)
            return
        if not self.logger.started:
            await self.logger.start()
        # Inline rather than a helper coroutine: one await less per request.
        event_id = ""
        content_type = ""
        metadata = None
        wanted = self._metadata_names
        for raw_name, raw_value in scope.get("headers", ()):
            name = raw_name.lower()
            if name == b"ce-id":
                event_id = event_id or raw_value.decode("latin-1")
            elif name == b"content-type":
                content_type = content_type or raw_value.decode("latin-1")
        if wanted:
            metadata = self._metadata(scope)
        exchange = _Exchange(
            self, receive, send, event_id or self._new_id(), content_type or "application/json", metadata
        )
        # with tracing on, the request and response events' emit spans hang under this one
        traced = tracing.on and tracing.span("payload logger", parent=tracing.extract(scope["headers"]))
        with traced or tracing.NOOP:
            try:
                await self.app(scope, exchange.receive, exchange.send)
            except BaseException:
                exchange.status = 500
                exchange.log_response()
                raise
            exchange.log_response()

    def _logged(self, scope: Scope) -> bool:
        if scope.get("method") != "POST":
            return False
        return not self._prefixes or str(scope.get("path", "")).startswith(self._prefixes)

    def append(self, body: bytes | list[bytes] | None, chunk: bytes) -> bytes | list[bytes] | None:
        """``body`` with ``chunk`` added: one chunk stays as is (no copy), more become a list;
        ``None`` (discarded) once the total passes ``max_payload_bytes``."""
        if body is None:
            return None
        if isinstance(body, bytes):
            if not body:
                return chunk if len(chunk) <= self._limit else None
            body = [body]
        body.append(chunk)
        return body if sum(map(len, body)) <= self._limit else None

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message: Message = await receive()
            if message["type"] == "lifespan.startup":
                await self.logger.start()
            elif message["type"] == "lifespan.shutdown":
                await self.logger.stop()
            return message

        return wrapped

    def _metadata(self, scope: Scope) -> str | None:
        headers: dict[str, list[str]] = {}
        for raw_name, raw_value in scope.get("headers", ()):
            name = raw_name.decode("latin-1").lower()
            if name in self._metadata_names:
                headers.setdefault(name, []).append(raw_value.decode("latin-1"))
        return metadata_attribute(self.config, headers) if headers else None
