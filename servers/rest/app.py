"""The REST transport: a plain ASGI app over the data plane (V1, V2, binary extension, Seldon).

No web framework sits on the hot path: the app reads the body (bounded by the request size
limit), resolves the route with :func:`~zeroserve.servers.rest.routes.match`, calls the data plane
and writes one response. Every request carries a request id (``x-request-id`` echoed or
generated) and, for inference routes, is counted in the metrics per model / protocol / status.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

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
    serve_lifespan,
)
from zeroserve.process.logs import TRACE_ID, trace_id_of
from zeroserve.servers.dataplane import DataPlane
from zeroserve.servers.errors import (
    InvalidInput,
    ModelNotReady,
    RequestTimeout,
    RequestTooLarge,
    ServerNotLive,
    ServingError,
    status_of,
)
from zeroserve.servers.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from zeroserve.servers.metrics import ServerMetrics
from zeroserve.servers.predict_io import result_to_infer_response
from zeroserve.servers.protocols import v1, v2_rest
from zeroserve.servers.protocols.json_body import DEFAULT_MAX_DEPTH
from zeroserve.servers.rest.deadlines import ReadDeadlines
from zeroserve.servers.rest.routes import Route, match
from zeroserve.servers.seldon.paths import ENDPOINTS as SELDON_ENDPOINTS
from zeroserve.servers.seldon.rest import SeldonRest
from zeroserve.servers.types import InferResponse, new_request_id

__all__ = ["RequestLimits", "RestApp", "create_rest_app"]

_JSON = b"application/json"
_BINARY = b"application/octet-stream"
_INFERENCE_ACTIONS = frozenset({"predict_v1", "explain_v1", "infer_v2", "seldon_predict"})
_REPOSITORY_ACTIONS = frozenset({"load", "unload", "repository_index"})
_CLOSE = [(b"connection", b"close")]

_log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RequestLimits:
    """What one request may cost the server before it is refused."""

    max_body_size: int = 64 * 1024 * 1024
    """Largest body in bytes (``Content-Length`` checked first, then while it streams): 413 beyond."""
    max_json_depth: int = DEFAULT_MAX_DEPTH
    """Deepest nesting of arrays and objects in a JSON body: 400 beyond."""
    read_timeout: float = 60.0
    """Seconds the whole body may take to arrive: 408 beyond (a slow or half-sent body)."""
    offload_size: int = 1024 * 1024
    """Bodies at least this large are decoded in a worker thread, so the event loop keeps answering."""


class Reply:
    """A response about to be written."""

    __slots__ = ("body", "content_type", "extra", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: bytes = _JSON,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.extra = extra


def _json(status: int, doc: Any) -> Reply:
    return Reply(status, orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY))


class RestApp:
    """The ASGI application of a model server.

    Args:
        dataplane: the data plane answering every operation.
        metrics: where inference requests are counted and timed.
        request_id: the context variable holding the current request id (read by the JSON logs).
        limits: body size, JSON depth and read time limits.
        access_log: log one line per request.
        enable_model_repository: serve ``/v2/repository/...`` (load, unload, index); 404 otherwise.
        clock: monotonic seconds, for latencies.
    """

    def __init__(
        self,
        dataplane: DataPlane,
        metrics: ServerMetrics,
        request_id: ContextVar[str | None],
        limits: RequestLimits | None = None,
        access_log: bool = False,
        enable_model_repository: bool = False,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.dataplane = dataplane
        self.metrics = metrics
        self._request_id = request_id
        self.limits = limits or RequestLimits()
        self._deadlines = ReadDeadlines(self.limits.read_timeout)
        self.access_log = access_log
        self.enable_model_repository = enable_model_repository
        self._clock = clock
        self._handlers: dict[str, Callable[[Route, bytes, dict[str, str]], Awaitable[Reply]]] = {
            "live_v1": self._live_v1,
            "list_models_v1": self._list_models_v1,
            "model_v1": self._model_v1,
            "predict_v1": self._predict_v1,
            "explain_v1": self._explain_v1,
            "server_metadata": self._server_metadata,
            "live_v2": self._live_v2,
            "ready_v2": self._ready_v2,
            "list_models_v2": self._list_models_v2,
            "model_metadata": self._model_metadata,
            "model_ready": self._model_ready,
            "infer_v2": self._infer_v2,
            "model_config": self._model_config,
            "model_stats": self._model_stats,
            "load": self._load,
            "unload": self._unload,
            "repository_index": self._repository_index,
            "metrics": self._metrics,
        }
        self._seldon_rest = SeldonRest(dataplane, self.limits.max_json_depth)
        for op in set(SELDON_ENDPOINTS.values()):
            self._handlers[f"seldon_{op}"] = functools.partial(self._seldon, op)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await serve_lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = self._clock()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        rid = headers.get("x-request-id") or new_request_id()
        token = self._request_id.set(rid)
        trace_token = TRACE_ID.set(trace_id_of(headers.get("traceparent")))
        method = scope["method"]
        route = match(method, scope["path"])
        if route.action in _REPOSITORY_ACTIONS and not self.enable_model_repository:
            route = Route("repository_disabled")
        try:
            try:
                if route.action == "not_found":
                    reply = _json(404, {"error": f"No route for {method} {scope['path']}"})
                elif route.action == "method_not_allowed":
                    reply = _json(405, {"error": f"Method {method} not allowed on {scope['path']}"})
                elif route.action == "repository_disabled":
                    reply = _json(
                        404,
                        {
                            "error": "the model repository API is disabled on this server "
                            "(start it with --enable_model_repository)"
                        },
                    )
                else:
                    if method == "POST":
                        body = await self._read_body(receive, headers)
                    else:  # a Seldon GET carries its request in the query (?json=...)
                        body = scope.get("query_string", b"") if route.protocol == "seldon" else b""
                    if tracing.on and route.action in _INFERENCE_ACTIONS:
                        reply = await self._traced(scope, route, body, headers)
                    else:
                        reply = await self._handlers[route.action](route, body, headers)
            except ClientDisconnected:
                return
            except Exception as exc:
                reply = self._error(exc, method, scope["path"])
            await self._send(send, reply, rid, method == "HEAD")
            if route.action in _INFERENCE_ACTIONS:
                known = self.dataplane.repository.get_model(route.model) is not None or reply.status != 404
                self.metrics.observe_request(
                    route.model if known else "", route.protocol, str(reply.status), self._clock() - started
                )
            if self.access_log:
                _log.info(
                    "%s %s %d",
                    method,
                    scope["path"],
                    reply.status,
                    extra={"status": reply.status, "duration_ms": round((self._clock() - started) * 1000, 3)},
                )
        finally:
            self._request_id.reset(token)
            TRACE_ID.reset(trace_token)

    async def _traced(self, scope: Scope, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        """An inference handler in a server span whose parent is the caller's ``traceparent``."""
        attributes = {
            "http.request.method": scope["method"],
            "url.path": scope["path"],
            "zeroserve.model": route.model,
            "rpc.system": f"kserve-{route.protocol}",
        }
        name = f"{scope['method']} {scope['path']}"
        parent = tracing.extract(headers)
        with tracing.span(name, kind="server", attributes=attributes, parent=parent) as span:
            reply = await self._handlers[route.action](route, body, headers)  # errors: recorded on the span
            if span is not None:
                span.set_attribute("http.response.status_code", reply.status)
            return reply

    def _error(self, exc: Exception, method: str, path: str) -> Reply:
        status, _, message = status_of(exc)
        if status >= 500 and not isinstance(exc, ServingError):
            _log.error("%s %s failed: %s", method, path, message, exc_info=exc)
        elif status >= 500:
            _log.error("%s %s: %s", method, path, message)
        else:
            _log.warning("%s %s: %d %s", method, path, status, message)
        body: dict[str, Any] = {"error": message}
        if isinstance(exc, ServingError) and exc.reason_code:
            body["reason_code"] = exc.reason_code
        reply = _json(status, body)
        if status in (408, 413):
            reply.extra = list(_CLOSE)  # the rest of the body is never read: end the connection
        return reply

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        limits = self.limits
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_size:
            raise RequestTooLarge(
                f"Request body of {declared} bytes exceeds the limit of {limits.max_body_size} bytes"
            )
        task: Any = asyncio.current_task()
        self._deadlines.start(task, asyncio.get_running_loop())
        try:
            return await read_body(receive, limits.max_body_size)
        except BodyTooLarge:
            raise RequestTooLarge(f"Request body exceeds the limit of {limits.max_body_size} bytes") from None
        except asyncio.CancelledError:
            if not self._deadlines.finish(task):
                raise
            raise RequestTimeout(
                f"Request body not received within {limits.read_timeout:g} s (the server's read timeout)"
            ) from None
        finally:
            self._deadlines.finish(task)

    async def _decode(self, what: str, body: bytes, decode: Callable[[], T]) -> T:
        """Run a codec's ``decode``: in a worker thread for a large body; a codec bug is a 400, not a 500."""
        try:
            if tracing.on:
                with tracing.span("decode"):
                    if len(body) >= self.limits.offload_size:
                        return await asyncio.to_thread(decode)
                    return decode()
            if len(body) >= self.limits.offload_size:
                return await asyncio.to_thread(decode)
            return decode()
        except ServingError:
            raise
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError, RecursionError):
            _log.warning("could not decode a %s", what, exc_info=True)
            raise InvalidInput(f"Unrecognized request format: the {what} could not be decoded") from None

    @staticmethod
    async def _send(send: Send, reply: Reply, rid: str, head_only: bool) -> None:
        headers = [(b"x-request-id", rid.encode("latin-1"))]
        if reply.extra:
            headers.extend(reply.extra)
        body = reply.body
        if head_only:
            await send(
                {
                    "type": "http.response.start",
                    "status": reply.status,
                    "headers": [
                        (b"content-length", str(len(body)).encode()),
                        (b"content-type", reply.content_type),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await respond(send, reply.status, body, headers, content_type=reply.content_type)

    # -- V1 ---------------------------------------------------------------------------------------

    async def _live_v1(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        return _json(200, {"status": "alive"})

    async def _list_models_v1(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        return _json(200, {"models": self.dataplane.model_names()})

    async def _model_v1(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        if not await self.dataplane.model_ready(route.model):
            raise ModelNotReady(route.model)
        return _json(200, {"name": route.model, "ready": True})

    async def _predict_v1(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        model = self.dataplane.repository.get_model(route.model)
        as_array = bool(getattr(model, "accepts_array_instances", False))
        depth = self.limits.max_json_depth
        if as_array and len(body) >= self.limits.offload_size:
            payload = await self._decode("V1 request", body, lambda: v1.decode_large_request(body, depth))
        else:
            payload = await self._decode("V1 request", body, lambda: v1.decode_request(body, depth))
        response_headers: dict[str, str] = {}
        result = await self.dataplane.infer(route.model, payload, headers, response_headers)
        if len(body) >= self.limits.offload_size:  # a large answer is likely: encode it off the loop too
            data = await asyncio.to_thread(v1.encode_response, result)
        elif tracing.on:
            with tracing.span("encode"):
                data = v1.encode_response(result)
        else:
            data = v1.encode_response(result)
        return Reply(200, data, _JSON, _extra(response_headers))

    async def _explain_v1(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        depth = self.limits.max_json_depth
        payload = await self._decode("V1 request", body, lambda: v1.decode_request(body, depth))
        result = await self.dataplane.explain(route.model, payload, headers)
        return Reply(200, v1.encode_response(result))

    # -- V2 ---------------------------------------------------------------------------------------

    async def _server_metadata(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        return _json(200, self.dataplane.server_metadata())

    async def _live_v2(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        if not self.dataplane.live:
            raise ServerNotLive("Server is shutting down")
        return _json(200, {"live": True})

    async def _ready_v2(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        ready = await self.dataplane.ready()
        return _json(200 if ready else 503, {"ready": ready})

    async def _list_models_v2(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        return _json(200, {"models": self.dataplane.model_names()})

    async def _model_metadata(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        return _json(200, await self.dataplane.model_metadata(route.model, route.version))

    async def _model_ready(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        if not await self.dataplane.model_ready(route.model, route.version):
            raise ModelNotReady(route.model)
        return _json(200, {"name": route.model, "ready": True})

    async def _model_config(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        return _json(200, await self.dataplane.model_config(route.model, route.version))

    async def _model_stats(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        return _json(200, self.dataplane.model_statistics(route.model, route.version))

    async def _infer_v2(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        header_length = headers.get(v2_rest.HEADER_LENGTH)
        length: int | None = None
        if header_length is not None:
            if not header_length.isdigit():
                raise InvalidInput(
                    f"Inference-Header-Content-Length must be an integer, got {header_length!r}"
                )
            length = int(header_length)
        depth = self.limits.max_json_depth
        request = await self._decode(
            "V2 inference request",
            body,
            lambda: v2_rest.decode_infer_request(body, route.model, length, route.version, depth),
        )
        if request.id is None:
            request.id = self._request_id.get()
        response_headers: dict[str, str] = {}
        result = await self.dataplane.infer(route.model, request, headers, response_headers, route.version)
        if isinstance(result, dict):
            return Reply(
                200, orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY), _JSON, _extra(response_headers)
            )
        if not isinstance(result, InferResponse):
            result = result_to_infer_response(result, route.model, request)
        if result.model_version is None and route.version:
            result.model_version = route.version
        if tracing.on:
            with tracing.span("encode"):
                data, json_length = v2_rest.encode_infer_response(result, request)
        else:
            data, json_length = v2_rest.encode_infer_response(result, request)
        extra = _extra(response_headers)
        if json_length is None:
            return Reply(200, data, _JSON, extra)
        extra = (extra or []) + [(b"inference-header-content-length", str(json_length).encode())]
        return Reply(200, data, _BINARY, extra)

    # -- repository, metrics, Seldon --------------------------------------------------------------

    async def _load(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        await self.dataplane.load(route.model)
        return _json(200, {"name": route.model, "load": True})

    async def _unload(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        await self.dataplane.unload(route.model)
        return _json(200, {"name": route.model, "unload": True})

    async def _repository_index(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        return _json(200, self.dataplane.repository_index())

    async def _metrics(self, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        return Reply(200, self.metrics.render(), METRICS_CONTENT_TYPE.encode())

    async def _seldon(self, op: str, route: Route, body: bytes, headers: dict[str, str]) -> Reply:
        status, data, content_type = await self._seldon_rest.handle(op, body, headers)
        return Reply(status, data, content_type)


def _extra(response_headers: dict[str, str]) -> list[tuple[bytes, bytes]] | None:
    if not response_headers:
        return None
    return [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in response_headers.items()]


def create_rest_app(
    dataplane: DataPlane,
    metrics: ServerMetrics,
    request_id: ContextVar[str | None],
    limits: RequestLimits | None = None,
    access_log: bool = False,
    enable_model_repository: bool = False,
) -> RestApp:
    """Build the REST ASGI app (see :class:`RestApp` for the arguments)."""
    return RestApp(dataplane, metrics, request_id, limits, access_log, enable_model_repository)
