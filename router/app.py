"""The router's HTTP surface, a plain ASGI app.

- ``GET /readyz`` (KServe's readiness path; 503 once shutting down), ``GET /healthz``;
- ``GET /metrics``: Prometheus text from the injected registry;
- ``POST /feedback`` (and Seldon's ``/api/v1.0/feedback``): bandit rewards, see
  :mod:`zeroserve.router.bandit.state`; ``GET /bandits`` shows what the bandits learned;
- every other path and method: the body goes to the ``root`` node (KServe's router ignores the path).

Every step call carries the propagated headers, ``Content-Type`` (``application/json`` unless
propagated), ``x-request-id`` (incoming or generated, echoed on the response) and W3C trace context
(``traceparent``, incoming or generated, and ``tracestate``). A routing failure answers KServe's
``{"error": "Failed to process request", "cause": ...}`` with its status code; a node's answer is
returned with ``Content-Type: application/json`` only when its body is valid JSON, as KServe does.

When a bandit routed the request, the response says so: a header ``x-zeroserve-routing:
<node>=<step>[, ...]`` and, for a JSON object body, ``"meta": {"routing": {"<node>": <step index>}}``
(Seldon's format), merged into an existing ``meta`` object.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from zeroserve.process import tracing
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
from zeroserve.router.bandit import Bandits, BanditStore, Feedback
from zeroserve.router.client import step_caller
from zeroserve.router.context import RequestContext, StepResponse
from zeroserve.router.errors import ERROR_MESSAGE, FeedbackError, RoutingFailure
from zeroserve.router.executors import GraphRunner
from zeroserve.router.headers import HeaderPropagator
from zeroserve.router.metrics import RouterMetrics
from zeroserve.router.plan import ExecutableGraph

if TYPE_CHECKING:
    import aiohttp

__all__ = ["ROUTING_HEADER", "RouterApp", "create_app"]

log = logging.getLogger(__name__)

ROUTING_HEADER = "x-zeroserve-routing"
"""Response header naming the steps bandits chose: ``<node>=<step>``, comma-separated."""

_JSON = (b"content-type", b"application/json")
_TEXT = b"text/plain"
_FEEDBACK_PATHS = frozenset({"/feedback", "/api/v1.0/feedback"})


def _new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def _error_body(cause: str) -> bytes:
    return orjson.dumps({"error": ERROR_MESSAGE, "cause": cause})


class RouterApp:
    """The ASGI app of one graph.

    Args:
        graph: the executable graph.
        runner: executes the graph's nodes.
        metrics: the router's metrics (its registry is served on ``/metrics``).
        propagator: selects the incoming headers forwarded to steps.
        bandits: the bandit nodes' state; ``None`` or empty when the graph has none.
    """

    def __init__(
        self,
        graph: ExecutableGraph,
        runner: GraphRunner,
        metrics: RouterMetrics,
        *,
        propagator: HeaderPropagator,
        bandits: Bandits | None = None,
    ) -> None:
        self.graph = graph
        self.runner = runner
        self.metrics = metrics
        self.propagator = propagator
        self.bandits = bandits
        self.shutting_down = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send, shutdown=self._shut_down)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "GET" and path in ("/readyz", "/healthz"):
            if path == "/readyz" and self.shutting_down:
                await respond(send, 503, b"shutting down", content_type=_TEXT)
            else:
                await respond(send, 200, b"OK", content_type=_TEXT)
            return
        if method == "GET" and path == "/metrics":
            body = generate_latest(self.metrics.registry)
            await respond(send, 200, body, content_type=CONTENT_TYPE_LATEST.encode())
            return
        if method == "GET" and path == "/bandits":
            await respond_json(send, 200, self.bandits.stats() if self.bandits else {})
            return
        try:
            body = await read_body(receive)
        except ClientDisconnected:
            return  # nobody is left to answer
        if method == "POST" and path in _FEEDBACK_PATHS:
            await self._feedback(body, send)
            return
        await self._route(scope, body, send)

    async def _shut_down(self) -> None:
        self.shutting_down = True

    def _context(self, scope: Scope) -> RequestContext:
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        request_id = traceparent = tracestate = None
        for name, value in raw_headers:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"tracestate":
                tracestate = value.decode("latin-1")
        headers = self.propagator.select(raw_headers)
        if not any(name == "Content-Type" for name, _ in headers):
            headers.append(("Content-Type", "application/json"))
        request_id = request_id or secrets.token_hex(16)
        headers.append(("X-Request-Id", request_id))
        headers.append(("Traceparent", traceparent or _new_traceparent()))
        if tracestate:
            headers.append(("Tracestate", tracestate))
        deadline = None
        if self.graph.timeout is not None:
            deadline = asyncio.get_running_loop().time() + self.graph.timeout
        return RequestContext(request_id=request_id, headers=headers, deadline=deadline)

    async def _route(self, scope: Scope, body: bytes, send: Send) -> None:
        ctx = self._context(scope)
        started = time.perf_counter()
        if tracing.on:
            attributes = {"http.request.method": scope["method"], "url.path": scope["path"]}
            parent = tracing.extract(scope["headers"])
            with tracing.span("graph", kind="server", attributes=attributes, parent=parent) as span:
                status = await self._route_with(ctx, body, send)
                if span is not None:
                    span.set_attribute("http.response.status_code", status)
        else:
            status = await self._route_with(ctx, body, send)
        self.metrics.requests.labels(str(status)).inc()
        if log.isEnabledFor(logging.DEBUG):
            elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
            log.debug(
                "graph request",
                extra={"request_id": ctx.request_id, "status": status, "duration_ms": elapsed_ms},
            )

    async def _route_with(self, ctx: RequestContext, body: bytes, send: Send) -> int:
        extra: list[tuple[bytes, bytes]] = [(b"x-request-id", ctx.request_id.encode("latin-1"))]
        try:
            if self.graph.timeout is not None:
                async with asyncio.timeout(self.graph.timeout):
                    response = await self.runner.run_node("root", body, ctx)
            else:
                response = await self.runner.run_node("root", body, ctx)
        except RoutingFailure as failure:
            response = self._failure(failure.status, failure.cause, ctx)
        except TimeoutError:
            response = self._failure(504, "the graph's timeout was exceeded", ctx)
        except Exception:
            log.exception("graph request crashed", extra={"request_id": ctx.request_id})
            response = self._failure(500, "internal router error (the router's log has the details)", ctx)
        else:
            return await self._answer(ctx, response, extra, send)
        await respond(send, response.status, response.body, [_JSON, *extra, *self._routed(ctx)])
        return response.status

    def _routed(self, ctx: RequestContext) -> list[tuple[bytes, bytes]]:
        """Remember the request's bandit decisions and name them in a header (none: no header)."""
        if not ctx.routing or not self.bandits:
            return []
        self.bandits.remember(ctx.request_id, ctx.routing)
        routed = ", ".join(f"{node}={step.key}" for node, step in ctx.routing.items())
        return [(ROUTING_HEADER.encode(), routed.encode("latin-1"))]

    async def _answer(
        self, ctx: RequestContext, response: StepResponse, extra: list[tuple[bytes, bytes]], send: Send
    ) -> int:
        headers = extra
        payload = response.body
        document: Any = None
        is_json = True
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError:
            is_json = False
        routed = self._routed(ctx)
        if routed:
            headers += routed
            if isinstance(document, dict):
                meta = document.get("meta")
                meta = dict(meta) if isinstance(meta, dict) else {}
                earlier = meta.get("routing")
                meta["routing"] = {
                    **(earlier if isinstance(earlier, dict) else {}),
                    **{node: step.index for node, step in ctx.routing.items()},
                }
                document["meta"] = meta
                payload = orjson.dumps(document)
        if is_json:
            headers.append(_JSON)
        await respond(send, response.status, payload, headers)
        return response.status

    def _failure(self, status: int, cause: str, ctx: RequestContext) -> StepResponse:
        log.warning(
            "graph request failed", extra={"request_id": ctx.request_id, "status": status, "cause": cause}
        )
        return StepResponse(status, _error_body(cause))

    async def _feedback(self, body: bytes, send: Send) -> None:
        try:
            if not self.bandits:
                raise FeedbackError(404, "this graph has no bandit node")
            applied = await self.bandits.apply(Feedback.parse(body))
        except FeedbackError as exc:
            await respond_json(send, exc.status, {"error": "Failed to process feedback", "cause": exc.cause})
            return
        await respond_json(send, 200, {"applied": applied})


def create_app(
    graph: ExecutableGraph,
    *,
    http: aiohttp.ClientSession | httpx.AsyncBaseTransport | httpx.AsyncClient,
    registry: CollectorRegistry,
    propagate_headers: Sequence[str] = (),
    state_dir: Path | None = None,
    seed: int | None = None,
) -> RouterApp:
    """Assemble the router for one graph from its injected parts.

    Args:
        graph: the executable graph.
        http: the pooled client for step calls: aiohttp's session, an httpx transport (called
            directly) or client (owned and closed by the caller).
        registry: where the router's metrics are registered.
        propagate_headers: KServe's header patterns (``PROPAGATE_HEADERS``).
        state_dir: where bandit state is persisted; ``None`` keeps it in memory.
        seed: seeds the Splitter's random source (``None``: from the OS).

    Returns:
        The ASGI app.
    """
    metrics = RouterMetrics(registry)
    store = BanditStore(state_dir) if state_dir is not None else None
    bandits = Bandits(graph, metrics, store=store)
    runner = GraphRunner(
        graph,
        step_caller(http, timeout=graph.step_timeout),
        metrics,
        rng=random.Random(seed),
        bandits=bandits,
    )
    return RouterApp(graph, runner, metrics, propagator=HeaderPropagator(propagate_headers), bandits=bandits)
