"""``zeroserve logger-agent``: a reverse proxy that logs the payloads of any HTTP model container.

The controller adds it as a sidecar when ``logger`` is set on a custom container: clients talk to
the agent, the agent forwards every request to ``upstream`` unchanged and returns the answer
unchanged, and :class:`~zeroserve.logger.middleware.PayloadLoggerMiddleware` logs both halves.
Its own metrics are at ``GET /_zeroserve/logger/metrics`` so the container's ``/metrics`` stays
reachable through it.
"""

from __future__ import annotations

import logging

import httpx
from prometheus_client import CollectorRegistry, generate_latest

from zeroserve.logger.config import LoggerConfig
from zeroserve.logger.middleware import PayloadLoggerMiddleware
from zeroserve.process.asgi import (
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    read_body,
    respond,
    respond_json,
    serve_lifespan,
)

__all__ = ["METRICS_PATH", "ReverseProxy", "create_agent_app"]

log = logging.getLogger(__name__)

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send, shutdown=self.aclose)
            return
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] == METRICS_PATH:
            body = generate_latest(self.registry)
            await respond(send, 200, body, content_type=b"text/plain; version=0.0.4")
            return
        try:
            content = await read_body(receive)
        except ClientDisconnected:
            return
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in _HOP_BY_HOP
        ]
        url = self.upstream + scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        try:
            response = await self._http().request(scope["method"], url, headers=headers, content=content)
        except httpx.HTTPError as exc:
            log.warning("upstream %s unavailable: %s", self.upstream, exc)
            await respond_json(send, 502, {"error": f"upstream {self.upstream} unavailable"})
            return
        out = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.multi_items()
            if k.lower() not in _HOP_BY_HOP and k.lower() != "content-encoding"
        ]
        await respond(send, response.status_code, response.content, out)


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
