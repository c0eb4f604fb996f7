"""The orchestrator's HTTP surface: Seldon's engine API (``engine.oas3.json``) as an ASGI app.

- ``POST .../api/v1.0/predictions`` (and ``/api/v0.1/predictions``): a SeldonMessage through the graph;
  the answer's ``meta`` always has ``puid``, ``routing``, ``requestPath`` and the merged ``tags``
  (and ``metrics`` when a component reported some). Any prefix before ``/api/`` is ignored, so
  ``/seldon/<ns>/<sdep>/api/v1.0/predictions`` works without a rewrite too;
- ``POST .../api/v1.0/feedback`` (``/api/v0.1/feedback``): a ``Feedback`` goes to the routers and
  models on the path the request took: ``response.meta.routing`` when the client sends it back, else
  the routing remembered for its ``puid`` (the latest :data:`MEMORY` requests), else every unit;
- ``GET /ready``, ``/live``, ``/readyz``, ``/healthz``, ``/api/v1.0/health/status``;
- any other path, when the graph is one unit: passed through to it (so ``protocol: v2`` or
  ``kfserving`` clients of a prepackaged server reach its ``/v2/...`` and ``/v1/...`` APIs).

Bad input is a 400 in Seldon's error shape (``status.code/info/reason/status: FAILURE``); a failing
component's status is passed on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

import httpx
import orjson

from zeroserve.process import tracing
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
from zeroserve.router.seldon.graph import SeldonGraph
from zeroserve.router.seldon.messages import RequestMeta, SeldonError, error_body
from zeroserve.router.seldon.walk import GraphWalker

__all__ = ["MEMORY", "SeldonOrchestrator"]

log = logging.getLogger(__name__)

MEMORY = 10_000
"""How many recent requests' routing is kept for feedback that carries only a ``puid``."""
BODY_LIMIT = 64 * 1024 * 1024
_PREDICT = ("/api/v1.0/predictions", "/api/v0.1/predictions", "/predict")
_FEEDBACK = ("/api/v1.0/feedback", "/api/v0.1/feedback", "/send-feedback")
_HEALTH = ("/ready", "/live", "/readyz", "/healthz", "/api/v1.0/health/status", "/health/ping")
_FORWARDED = ("x-request-id", "traceparent", "tracestate", "authorization", "seldon-puid")


def _suffix(path: str, known: tuple[str, ...]) -> bool:
    return any(path == p or path.endswith(p) for p in known)


class SeldonOrchestrator:
    """The ASGI app of one predictor.

    Args:
        graph: the predictor's graph.
        http: the pooled client used for components (and shadows).
        walker: the graph walker (built from ``graph`` and ``http`` when omitted).
        memory: how many requests' routing to remember.
    """

    def __init__(
        self,
        graph: SeldonGraph,
        http: httpx.AsyncClient,
        walker: GraphWalker | None = None,
        memory: int = MEMORY,
    ) -> None:
        self.graph = graph
        self.http = http
        self.walker = walker or GraphWalker(graph, http)
        self.memory = memory
        self.routings: OrderedDict[str, dict[str, int]] = OrderedDict()
        self.shutting_down = False
        self._shadow_tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI scope."""
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send, shutdown=self._shut_down)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "GET" and _suffix(path, _HEALTH):
            if self.shutting_down:
                await respond(send, 503, b"shutting down", content_type=b"text/plain")
            else:
                await respond_json(send, 200, {"status": "ok"} if "status" in path else "ok")
            return
        predict, feedback = _suffix(path, _PREDICT), _suffix(path, _FEEDBACK)
        if not (predict or feedback):
            root = self.graph.root
            if root.url and not root.children:
                await self._pass_through(scope, receive, send)
                return
            await respond_json(send, 404, error_body(404, f"no such path {path}", "NOT_FOUND"))
            return
        if method != "POST":
            await respond_json(send, 405, error_body(405, f"{path} takes POST", "METHOD_NOT_ALLOWED"))
            return
        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() in _FORWARDED
        }
        try:
            body = await read_body(receive, BODY_LIMIT)
        except ClientDisconnected:
            return
        except BodyTooLarge:
            await respond_json(send, 413, error_body(413, "the request body is too large", "BAD_REQUEST"))
            return
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            await respond_json(send, 400, error_body(400, f"the body is not JSON: {exc}", "BAD_REQUEST"))
            return
        if not isinstance(message, dict):
            await respond_json(send, 400, error_body(400, "the body must be a JSON object", "BAD_REQUEST"))
            return
        try:
            if predict:
                status, answer = 200, await self.predict(message, headers)
            else:
                status, answer = 200, await self.feedback(message, headers)
        except SeldonError as exc:
            if exc.body is not None:
                try:
                    passed = orjson.loads(exc.body)
                except orjson.JSONDecodeError:
                    passed = None
                if isinstance(passed, dict) and isinstance(passed.get("status"), dict):
                    await respond_json(send, exc.status, passed)
                    return
            await respond_json(send, exc.status, error_body(exc.status, exc.info, exc.reason))
            return
        await respond_json(send, status, answer)

    async def predict(self, message: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        """Run one prediction and remember its routing under its ``puid``."""
        if "puid" not in (message.get("meta") or {}) and headers.get("seldon-puid"):
            message = {**message, "meta": {**(message.get("meta") or {}), "puid": headers["seldon-puid"]}}
        meta = RequestMeta.from_request(message)
        for url in self.graph.shadows:
            task = asyncio.create_task(self._shadow(url, message, headers))
            self._shadow_tasks.add(task)
            task.add_done_callback(self._shadow_tasks.discard)
        with tracing.span("seldon graph", kind="server", parent=tracing.extract(headers)):
            answer = await self.walker.predict(message, meta, headers)
        self.routings[meta.puid] = dict(meta.routing)
        while len(self.routings) > self.memory:
            self.routings.popitem(last=False)
        return {**answer, "meta": meta.to_dict()}

    async def feedback(self, feedback: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        """Deliver one Feedback; answer a SeldonMessage with the routing it used."""
        reward = feedback.get("reward", 0)
        if isinstance(reward, bool) or not isinstance(reward, int | float):
            raise SeldonError(400, f"reward must be a number, got {reward!r}", "BAD_FEEDBACK")
        routing: dict[str, int] | None = None
        puid = None
        for part in ("response", "request"):
            section = feedback.get(part)
            meta = section.get("meta") if isinstance(section, dict) else None
            if not isinstance(meta, dict):
                continue
            if part == "response" and isinstance(meta.get("routing"), dict) and meta["routing"]:
                routing = meta["routing"]
            puid = puid or meta.get("puid")
        if routing is not None and not all(
            isinstance(v, int) and not isinstance(v, bool) for v in routing.values()
        ):
            raise SeldonError(400, "response.meta.routing must map units to integers", "BAD_FEEDBACK")
        if routing is None and isinstance(puid, str):
            routing = self.routings.get(puid)
        routing = dict(routing or {})
        await self.walker.feedback(feedback, routing, headers)
        return {"meta": {"puid": puid or "", "routing": routing}, "data": {"names": [], "ndarray": []}}

    async def _pass_through(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward a request the engine API does not know (V1, V2, metadata) to a lone root unit."""
        try:
            body = await read_body(receive, BODY_LIMIT)
        except ClientDisconnected:
            return
        except BodyTooLarge:
            await respond_json(send, 413, error_body(413, "the request body is too large", "BAD_REQUEST"))
            return
        path = scope["path"]
        if scope.get("query_string"):
            path += "?" + scope["query_string"].decode("latin-1")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.lower() not in (b"host", b"content-length", b"connection")
        ]
        assert self.graph.root.url is not None
        try:
            answer = await self.http.request(
                scope["method"], self.graph.root.url + path, content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            info = f"unit {self.graph.root.name!r} could not be reached: {exc}"
            await respond_json(send, 503, error_body(503, info, "UNIT_UNREACHABLE"))
            return
        passed = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in answer.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")
        ]
        await respond(send, answer.status_code, answer.content, passed)

    async def _shadow(self, url: str, message: dict[str, Any], headers: dict[str, str]) -> None:
        try:
            await self.http.post(
                url.rstrip("/") + "/api/v1.0/predictions",
                content=orjson.dumps(message),
                headers={"content-type": "application/json", **headers},
            )
        except httpx.HTTPError as exc:
            log.warning("shadow predictor not reached", extra={"url": url, "error": str(exc)})

    async def _shut_down(self) -> None:
        self.shutting_down = True
        for task in list(self._shadow_tasks):
            task.cancel()
