"""``zeroserve logger-agent``: a reverse proxy that logs the payloads of any HTTP model container.

The controller adds it as a sidecar when ``logger`` is set on a custom container: clients talk to
the agent, the agent forwards every request to ``upstream`` unchanged and returns the answer
unchanged, and :class:`~zeroserve.logger.middleware.PayloadLoggerMiddleware` logs both halves.
Its own metrics are at ``GET /_zeroserve/logger/metrics`` so the container's ``/metrics`` stays
reachable through it.
"""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client import CollectorRegistry, generate_latest

from zeroserve.logger.config import LoggerConfig
from zeroserve.logger.middleware import PayloadLoggerMiddleware

__all__ = ["METRICS_PATH", "ReverseProxy", "create_agent_app"]

METRICS_PATH = "/_zeroserve/logger/metrics"
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class ReverseProxy:
    """An ASGI app that forwards each HTTP request to one upstream.

    Args:
        upstream: base URL of the container, e.g. ``http://127.0.0.1:8080``.
        registry: served at :data:`METRICS_PATH`.
        transport: HTTP transport to the upstream (tests may inject one).
        timeout: seconds to wait for the upstream (long inferences need long timeouts).
    """

    def __init__(
        self,
        upstream: str,
        *,
        registry: CollectorRegistry,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 600.0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.registry = registry
        self._transport = transport
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport, timeout=self._timeout, trust_env=False
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] == METRICS_PATH:
            body = generate_latest(self.registry)
            await _respond(send, 200, [(b"content-type", b"text/plain; version=0.0.4")], body)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in _HOP_BY_HOP
        ]
        url = self.upstream + scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        try:
            response = await self._http().request(
                scope["method"], url, headers=headers, content=b"".join(chunks)
            )
        except httpx.HTTPError as exc:
            await _respond(
                send,
                502,
                [(b"content-type", b"application/json")],
                b'{"error": "upstream unavailable: %s"}' % type(exc).__name__.encode(),
            )
            return
        out = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.multi_items()
            if k.lower() not in _HOP_BY_HOP and k.lower() != "content-encoding"
        ]
        await _respond(send, response.status_code, out, response.content)


async def _respond(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_agent_app(
    upstream: str,
    config: LoggerConfig,
    *,
    registry: CollectorRegistry | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    sink_transport: httpx.AsyncBaseTransport | None = None,
) -> PayloadLoggerMiddleware:
    """The logger-agent app: a :class:`ReverseProxy` wrapped in the payload-logging middleware.

    Args:
        upstream: the container's base URL.
        config: what to log and where.
        registry: the agent's Prometheus registry (a fresh one when omitted).
        upstream_transport: HTTP transport to the container.
        sink_transport: HTTP transport to the CloudEvents sink.

    Returns:
        The ASGI app.
    """
    registry = registry if registry is not None else CollectorRegistry()
    proxy = ReverseProxy(upstream, registry=registry, transport=upstream_transport)
    return PayloadLoggerMiddleware(proxy, config, registry=registry, transport=sink_transport)
