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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from zeroserve.logger.config import LoggerConfig
from zeroserve.logger.emitter import PayloadLogger
from zeroserve.logger.events import metadata_attribute, request_event, response_event

__all__ = ["PayloadLoggerMiddleware"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]


def _new_id() -> str:
    """A random (version 4) UUID string, cheaper than ``str(uuid.uuid4())`` on the request path."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Capture:
    """Accumulates one body up to a size limit; past it the body is marked oversize and discarded."""

    __slots__ = ("chunks", "limit", "oversize", "size")

    def __init__(self, limit: int) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.oversize = False

    def add(self, chunk: bytes) -> None:
        if self.oversize or not chunk:
            return
        self.size += len(chunk)
        if self.size > self.limit:
            self.oversize = True
            self.chunks = []
            return
        self.chunks.append(chunk)

    def body(self) -> bytes:
        return b"".join(self.chunks)


class PayloadLoggerMiddleware:
    """Wraps an ASGI app so its inferences are logged as CloudEvents.

    Args:
        app: the ASGI app to wrap.
        config: sink, mode, component identity and queue/retry settings.
        registry: Prometheus registry for the logger's metrics (the server's own, so they appear on
            its ``/metrics``); a private one when omitted.
        transport: HTTP transport for the sink, for tests and custom networking.
        now: wall clock for the events' ``time`` attribute.
        logger: an already built :class:`PayloadLogger` to use instead of building one.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: LoggerConfig,
        *,
        registry: CollectorRegistry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = _utcnow,
        logger: PayloadLogger | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.logger = logger or PayloadLogger(config, registry=registry, transport=transport)
        self._now = now

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
        await self._logged_call(scope, receive, send)

    def _logged(self, scope: Scope) -> bool:
        if scope.get("method") != "POST":
            return False
        prefixes = self.config.log_paths_prefixes
        return not prefixes or str(scope.get("path", "")).startswith(prefixes)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message: Message = await receive()
            if message["type"] == "lifespan.startup":
                await self.logger.start()
            elif message["type"] == "lifespan.shutdown":
                await self.logger.stop()
            return message

        return wrapped

    async def _logged_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        config = self.config
        headers: dict[str, list[str]] = {}
        for raw_name, raw_value in scope.get("headers", []):
            headers.setdefault(raw_name.decode("latin-1").lower(), []).append(raw_value.decode("latin-1"))
        event_id = (headers.get("ce-id") or [""])[0] or _new_id()
        content_type = (headers.get("content-type") or [""])[0] or None
        metadata = metadata_attribute(config, headers) if config.metadata_headers else None
        arrived = self._now()
        limit = config.max_payload_bytes
        request = _Capture(limit)
        response = _Capture(limit)
        status = 500
        request_logged = False
        response_logged = False

        def log_request() -> None:
            nonlocal request_logged
            if request_logged or not config.mode.logs_request:
                return
            request_logged = True
            if request.oversize:
                self.logger.metrics.dropped.labels(reason="too_large").inc()
                return
            self.logger.submit(
                request_event(
                    config,
                    event_id=event_id,
                    body=request.body(),
                    content_type=content_type,
                    metadata=metadata,
                    when=arrived,
                )
            )

        def log_response() -> None:
            nonlocal response_logged
            if response_logged:
                return
            response_logged = True
            log_request()  # a request the app answered before reading it all is still logged
            if not config.mode.logs_response:
                return
            if response.oversize:
                self.logger.metrics.dropped.labels(reason="too_large").inc()
                return
            self.logger.submit(
                response_event(
                    config,
                    event_id=event_id,
                    body=response.body(),
                    content_type=content_type,
                    status=status,
                    metadata=metadata,
                    when=self._now(),
                )
            )

        async def logging_receive() -> Message:
            message: Message = await receive()
            if message["type"] == "http.request":
                request.add(message.get("body", b""))
                if not message.get("more_body", False):
                    log_request()
            return message

        async def logging_send(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind == "http.response.start":
                status = int(message["status"])
            elif kind == "http.response.body":
                response.add(message.get("body", b""))
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False):
                log_response()

        try:
            await self.app(scope, logging_receive, logging_send)
        except BaseException:
            status = 500
            log_response()
            raise
        log_response()
