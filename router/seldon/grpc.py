"""The orchestrator's gRPC surface: Seldon's engine API (``seldon.protos.Seldon``) next to the REST one.

``Predict`` and ``SendFeedback`` take the protobuf messages of ``prediction.proto``, turn them into
their JSON form (protobuf's JSON mapping: the same field names the REST API carries) and run them
through the same :class:`~zeroserve.router.seldon.app.SeldonOrchestrator` as REST, so routing,
``meta.requestPath``, ``puid``, feedback to routers and bandits are the same on both transports. The
``seldon-puid``, ``x-request-id`` and trace metadata are passed on to components as REST headers are.

Errors end the call with a gRPC status whose details are Seldon's ``info``; the trailing metadata
``seldon-status-bin`` carries Seldon's status shape (``seldon.protos.Status``: ``code``, ``info``,
``reason``, ``status: FAILURE``). Bytes that are not the request type, and messages the graph's
components refuse as malformed (their 400), are ``INVALID_ARGUMENT``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from zeroserve.process.listen import PortInUse
from zeroserve.protos import seldon_prediction_pb2 as pb
from zeroserve.router.seldon.app import SeldonOrchestrator
from zeroserve.router.seldon.messages import SeldonError

__all__ = ["STATUS_TRAILER", "grpc_code", "start_grpc_server"]

log = logging.getLogger(__name__)

STATUS_TRAILER = "seldon-status-bin"
"""Trailing metadata key of a failed call: a serialized ``seldon.protos.Status``."""
MESSAGE_LIMIT = 64 * 1024 * 1024
_FORWARDED = ("x-request-id", "traceparent", "tracestate", "authorization", "seldon-puid")
_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def grpc_code(status: int) -> grpc.StatusCode:
    """The gRPC status of an HTTP-style error status (other 4xx: ``INVALID_ARGUMENT``; else ``INTERNAL``)."""
    if status in _CODES:
        return _CODES[status]
    return grpc.StatusCode.INVALID_ARGUMENT if 400 <= status < 500 else grpc.StatusCode.INTERNAL


def _status(code: int, info: str, reason: str) -> bytes:
    return pb.Status(code=code, info=info, reason=reason, status=pb.Status.FAILURE).SerializeToString()


class _EngineRpcs:
    """``Predict`` and ``SendFeedback`` over one orchestrator."""

    def __init__(self, app: SeldonOrchestrator) -> None:
        self.app = app

    async def _abort(self, context: Any, status: int, info: str, reason: str) -> None:
        context.set_trailing_metadata(((STATUS_TRAILER, _status(status, info, reason)),))
        await context.abort(grpc_code(status), info)

    def unary(self, request_type: Any, run: Callable[..., Awaitable[dict[str, Any]]]) -> Any:
        name = request_type.DESCRIPTOR.full_name

        async def call(data: bytes, context: Any) -> bytes:
            try:
                request = request_type.FromString(data)
            except (DecodeError, ValueError):
                await self._abort(context, 400, f"the request is not a valid {name}", "BAD_REQUEST")
                raise
            headers = {
                k.lower(): v
                for k, v in (context.invocation_metadata() or ())
                if isinstance(v, str) and k.lower() in _FORWARDED
            }
            doc = json_format.MessageToDict(request)
            try:
                answer = await run(doc, headers)
            except SeldonError as exc:
                status, info, reason = exc.status, exc.info, exc.reason
                passed = _passed_status(exc.body)
                if passed is not None:
                    status, info, reason = passed
                await self._abort(context, status, info, reason)
                raise
            try:
                message: Message = json_format.ParseDict(
                    answer, pb.SeldonMessage(), ignore_unknown_fields=True
                )
            except (json_format.ParseError, TypeError, ValueError) as exc:
                info = f"the graph's answer is not a valid seldon.protos.SeldonMessage: {exc}"
                await self._abort(context, 500, info, "ENGINE_ERROR")
                raise
            return message.SerializeToString()

        return grpc.unary_unary_rpc_method_handler(call)


def _passed_status(body: bytes | None) -> tuple[int, str, str] | None:
    """A component's own Seldon error (``{"status": {...}}``) in a failed call's body, if it is one."""
    import orjson

    if not body:
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    status = doc.get("status") if isinstance(doc, dict) else None
    if not isinstance(status, dict) or not isinstance(status.get("code"), int):
        return None
    return status["code"], str(status.get("info") or ""), str(status.get("reason") or "")


async def start_grpc_server(app: SeldonOrchestrator, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    """Start the ``seldon.protos.Seldon`` service of ``app`` on ``host:port``.

    Args:
        app: the orchestrator whose graph the calls run through.
        host: the address to bind.
        port: the port; 0 picks a free one.

    Returns:
        ``(server, bound port)``; stop it with ``await server.stop(grace)``.

    Raises:
        PortInUse: the address cannot be bound.
    """
    server = grpc.aio.server(
        options=[
            ("grpc.max_send_message_length", MESSAGE_LIMIT),
            ("grpc.max_receive_message_length", MESSAGE_LIMIT),
            ("grpc.so_reuseport", 0),
        ]
    )
    rpcs = _EngineRpcs(app)
    table = {
        "Predict": rpcs.unary(pb.SeldonMessage, app.predict),
        "SendFeedback": rpcs.unary(pb.Feedback, app.feedback),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("seldon.protos.Seldon", table),))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if bound == 0:
        await server.stop(None)
        raise PortInUse(host, port, "--grpc-port", "address already in use or not available")
    await server.start()
    return server, bound
