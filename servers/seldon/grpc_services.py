"""Seldon's gRPC protocol: the ``prediction.proto`` services over :class:`.service.SeldonService`.

``seldon.protos.Generic``, ``Model``, ``Router``, ``Transformer``, ``OutputTransformer``,
``Combiner`` and ``Seldon`` are served on the server's gRPC port, next to the V2 service. A message
is converted to its JSON form (protobuf's JSON mapping, the same field names REST carries), run,
and the answer converted back; a user's raw hook gets the protobuf message itself and may answer
with one. Errors: ``INVALID_ARGUMENT`` for a malformed message (400), ``INTERNAL`` when the user's
code fails (500), with Seldon's ``info`` as the details; bytes that are not the message type answer
``INVALID_ARGUMENT`` naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from zeroserve.protos import seldon_prediction_pb2 as pb
from zeroserve.servers.dataplane import DataPlane
from zeroserve.servers.seldon.errors import SeldonError, from_exception
from zeroserve.servers.seldon.service import SeldonService

__all__ = ["SERVICES", "seldon_handlers"]

_log = logging.getLogger(__name__)

_MSG, _LIST, _FEEDBACK = pb.SeldonMessage, pb.SeldonMessageList, pb.Feedback

# service -> RPC -> (request type, operation)
SERVICES: dict[str, dict[str, tuple[Any, str]]] = {
    "Generic": {
        "TransformInput": (_MSG, "transform_input"),
        "TransformOutput": (_MSG, "transform_output"),
        "Route": (_MSG, "route"),
        "Aggregate": (_LIST, "aggregate"),
        "SendFeedback": (_FEEDBACK, "send_feedback"),
    },
    "Model": {
        "Predict": (_MSG, "predict"),
        "SendFeedback": (_FEEDBACK, "send_feedback"),
        "Metadata": (None, "metadata"),
    },
    "Router": {"Route": (_MSG, "route"), "SendFeedback": (_FEEDBACK, "send_feedback")},
    "Transformer": {"TransformInput": (_MSG, "transform_input")},
    "OutputTransformer": {"TransformOutput": (_MSG, "transform_output")},
    "Combiner": {"Aggregate": (_LIST, "aggregate")},
    "Seldon": {
        "Predict": (_MSG, "predict"),
        "SendFeedback": (_FEEDBACK, "send_feedback"),
        "ModelMetadata": (pb.SeldonModelMetadataRequest, "metadata"),
        "GraphMetadata": (None, "graph_metadata"),
    },
}


class _Undecodable:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _lenient(message: Any) -> Callable[[bytes], Any]:
    name = message.DESCRIPTOR.full_name

    def parse(data: bytes) -> Any:
        try:
            return message.FromString(data)
        except (DecodeError, Exception):
            return _Undecodable(f"the request is not a valid {name}")

    return parse


def _metadata_of(context: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


def _to_proto(doc: Any, message: Any) -> Any:
    if hasattr(doc, "DESCRIPTOR"):
        return doc  # a raw hook answered in protobuf already
    try:
        return json_format.ParseDict(doc, message(), ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise SeldonError(
            f"the component's answer is not a valid {message.DESCRIPTOR.name}: {exc}",
            500,
            "MICROSERVICE_INTERNAL_ERROR",
        ) from None


class _Rpcs:
    def __init__(self, service: SeldonService) -> None:
        self.service = service

    async def _fail(self, context: Any, exc: BaseException) -> None:
        status, doc = from_exception(exc)
        code = getattr(exc, "grpc_code", None) if isinstance(exc, SeldonError) else None
        if code is None:
            code = "INVALID_ARGUMENT" if status == 400 else "INTERNAL" if status >= 500 else "NOT_FOUND"
        await context.abort(getattr(grpc.StatusCode, code), doc["status"]["info"])

    def unary(self, op: str) -> Callable[[Any, Any], Awaitable[Any]]:
        async def call(request: Any, context: Any) -> Any:
            if isinstance(request, _Undecodable):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.reason)
            headers = _metadata_of(context)
            try:
                if op == "metadata":
                    name = getattr(request, "name", "") or None
                    return _to_proto(await self.service.metadata(headers, name), pb.SeldonModelMetadata)
                if op == "graph_metadata":
                    name = self.service.model_name(headers)
                    meta = await self.service.metadata(headers, name)
                    graph = {
                        "name": name,
                        "models": {name: meta},
                        "inputs": meta["inputs"],
                        "outputs": meta["outputs"],
                    }
                    return _to_proto(graph, pb.SeldonGraphMetadata)
                doc = json_format.MessageToDict(request)
                result = await self.service.run(op, doc, headers, native=request, transport="grpc")
                return _to_proto(result, pb.SeldonMessage)
            except Exception as exc:
                await self._fail(context, exc)
                raise  # abort raised already; for type checkers

        return call


def seldon_handlers(dataplane: DataPlane) -> list[Any]:
    """The generic RPC handlers of every Seldon service, for ``server.add_generic_rpc_handlers``."""
    from google.protobuf import empty_pb2

    rpcs = _Rpcs(SeldonService(dataplane))
    handlers = []
    for service, methods in SERVICES.items():
        table = {}
        for rpc, (request_type, op) in methods.items():
            response = (
                pb.SeldonModelMetadata
                if op == "metadata"
                else pb.SeldonGraphMetadata
                if op == "graph_metadata"
                else pb.SeldonMessage
            )
            table[rpc] = grpc.unary_unary_rpc_method_handler(
                rpcs.unary(op),
                request_deserializer=_lenient(request_type or empty_pb2.Empty),
                response_serializer=response.SerializeToString,
            )
        handlers.append(grpc.method_handlers_generic_handler(f"seldon.protos.{service}", table))
    return handlers
