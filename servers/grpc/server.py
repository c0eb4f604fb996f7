"""The V2 gRPC transport: ``inference.GRPCInferenceService`` over the data plane (grpc.aio).

Every RPC maps the data plane's exceptions to the status codes in
:mod:`zeroserve.servers.errors` (the Open Inference Protocol's: ``INVALID_ARGUMENT``, ``NOT_FOUND``,
``RESOURCE_EXHAUSTED``, ``UNAVAILABLE``); ``ModelInfer`` is counted in the metrics with protocol
``grpc-v2`` and the status code name, and carries a request id (``x-request-id`` metadata echoed
in the trailing metadata, or generated).

The method table is built here rather than by the generated ``add_..._to_server``: each request is
parsed by a lenient deserializer, so bytes that are not a valid message answer ``INVALID_ARGUMENT``
naming the message type, where grpc's own handling would answer ``UNKNOWN``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from zeroserve.process import tracing
from zeroserve.process.listen import PortInUse
from zeroserve.servers.dataplane import DataPlane
from zeroserve.servers.errors import ModelNotReady, NotImplementedYet, status_of
from zeroserve.servers.grpc import convert
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2 as pb
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from zeroserve.servers.metrics import ServerMetrics
from zeroserve.servers.predict_io import result_to_infer_response
from zeroserve.servers.types import InferResponse, new_request_id

__all__ = ["InferenceServicer", "Undecodable", "method_handlers", "start_grpc_server"]

_log = logging.getLogger(__name__)

_SERVICE = "inference.GRPCInferenceService"

# RPC name -> (request message, response message).
_METHODS: dict[str, tuple[Any, Any]] = {
    "ServerLive": (pb.ServerLiveRequest, pb.ServerLiveResponse),
    "ServerReady": (pb.ServerReadyRequest, pb.ServerReadyResponse),
    "ModelReady": (pb.ModelReadyRequest, pb.ModelReadyResponse),
    "ServerMetadata": (pb.ServerMetadataRequest, pb.ServerMetadataResponse),
    "ModelMetadata": (pb.ModelMetadataRequest, pb.ModelMetadataResponse),
    "ModelInfer": (pb.ModelInferRequest, pb.ModelInferResponse),
    "RepositoryModelLoad": (pb.RepositoryModelLoadRequest, pb.RepositoryModelLoadResponse),
    "RepositoryModelUnload": (pb.RepositoryModelUnloadRequest, pb.RepositoryModelUnloadResponse),
    "ModelConfig": (pb.ModelConfigRequest, pb.ModelConfigResponse),
    "ModelStatistics": (pb.ModelStatisticsRequest, pb.ModelStatisticsResponse),
}


class Undecodable:
    """What the lenient deserializer returns for bytes that are not a valid request message."""

    __slots__ = ("message_type", "reason")

    def __init__(self, message_type: str, reason: str) -> None:
        self.message_type = message_type
        self.reason = reason


def _lenient(message: Any) -> Callable[[bytes], Any]:
    name = message.DESCRIPTOR.full_name

    def parse(data: bytes) -> Any:
        try:
            return message.FromString(data)
        except DecodeError as exc:
            return Undecodable(name, str(exc) or "corrupt wire format")
        except Exception:
            return Undecodable(name, "corrupt wire format")

    return parse


def _guarded(rpc: str, method: Callable[[Any, Any], Awaitable[Any]]) -> Callable[[Any, Any], Awaitable[Any]]:
    async def call(request: Any, context: Any) -> Any:
        if isinstance(request, Undecodable):
            _log.warning("%s: undecodable request: %s", rpc, request.reason)
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{rpc}: the request is not a valid {request.message_type} message ({request.reason})",
            )
        return await method(request, context)

    return call


def method_handlers(servicer: InferenceServicer) -> dict[str, Any]:
    """The RPC method handlers of ``servicer``, with lenient request parsing.

    Args:
        servicer: the servicer answering the RPCs.

    Returns:
        RPC name -> grpc method handler, for ``method_handlers_generic_handler``.
    """
    return {
        name: grpc.unary_unary_rpc_method_handler(
            _guarded(name, getattr(servicer, name)),
            request_deserializer=_lenient(request),
            response_serializer=response.SerializeToString,
        )
        for name, (request, response) in _METHODS.items()
    }


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """Answers the V2 gRPC RPCs from a :class:`DataPlane`.

    Args:
        dataplane: the data plane.
        metrics: where ``ModelInfer`` calls are counted.
        request_id: the server's request id context variable.
        enable_model_repository: answer ``RepositoryModelLoad`` / ``Unload``; ``UNIMPLEMENTED``
            otherwise.
    """

    def __init__(
        self,
        dataplane: DataPlane,
        metrics: ServerMetrics,
        request_id: ContextVar[str | None],
        enable_model_repository: bool = False,
    ) -> None:
        self.dataplane = dataplane
        self.metrics = metrics
        self._request_id = request_id
        self.enable_model_repository = enable_model_repository

    async def _repository_disabled(self, context: Any, rpc: str) -> None:
        if not self.enable_model_repository:
            await self._abort(
                context,
                NotImplementedYet(
                    "the model repository API is disabled on this server "
                    "(start it with --enable_model_repository)"
                ),
                rpc,
            )

    async def _abort(self, context: Any, exc: Exception, rpc: str) -> None:
        status, code, message = status_of(exc)
        if status >= 500:
            _log.error("%s failed: %s", rpc, message, exc_info=exc if status == 500 else None)
        await context.abort(getattr(grpc.StatusCode, code), message)

    async def ServerLive(self, request: Any, context: Any) -> Any:
        return pb.ServerLiveResponse(live=self.dataplane.live)

    async def ServerReady(self, request: Any, context: Any) -> Any:
        return pb.ServerReadyResponse(ready=await self.dataplane.ready())

    async def ModelReady(self, request: Any, context: Any) -> Any:
        try:
            ready = await self.dataplane.model_ready(request.name, request.version or None)
        except Exception as exc:
            await self._abort(context, exc, "ModelReady")
            raise
        return pb.ModelReadyResponse(ready=ready)

    async def ServerMetadata(self, request: Any, context: Any) -> Any:
        meta = self.dataplane.server_metadata()
        return pb.ServerMetadataResponse(
            name=meta["name"], version=meta["version"], extensions=meta["extensions"]
        )

    async def ModelMetadata(self, request: Any, context: Any) -> Any:
        try:
            meta = await self.dataplane.model_metadata(request.name, request.version or None)
        except Exception as exc:
            await self._abort(context, exc, "ModelMetadata")
            raise
        return convert.metadata_to_grpc(meta)

    async def ModelConfig(self, request: Any, context: Any) -> Any:
        try:
            config = await self.dataplane.model_config(request.name, request.version or None)
        except Exception as exc:
            await self._abort(context, exc, "ModelConfig")
            raise
        return convert.config_to_grpc(config)

    async def ModelStatistics(self, request: Any, context: Any) -> Any:
        try:
            stats = self.dataplane.model_statistics(request.name or None, request.version or None)
        except Exception as exc:
            await self._abort(context, exc, "ModelStatistics")
            raise
        return convert.statistics_to_grpc(stats)

    async def ModelInfer(self, request: Any, context: Any) -> Any:
        started = time.perf_counter()
        headers = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        rid = headers.get("x-request-id") or new_request_id()
        token = self._request_id.set(rid)
        code = "OK"
        model = request.model_name
        try:
            context.set_trailing_metadata((("x-request-id", rid),))
            internal = convert.infer_request_from_grpc(request)
            if internal.id is None:
                internal.id = rid
            if tracing.on:  # a server span continuing the caller's traceparent metadata
                attributes = {"rpc.system": "grpc", "rpc.method": "ModelInfer", "zeroserve.model": model}
                name, parent = "inference.GRPCInferenceService/ModelInfer", tracing.extract(headers)
                version = internal.model_version
                with tracing.span(name, kind="server", attributes=attributes, parent=parent):
                    result = await self.dataplane.infer(model, internal, headers, None, version)
            else:
                result = await self.dataplane.infer(model, internal, headers, None, internal.model_version)
            if not isinstance(result, InferResponse):
                if isinstance(result, dict):  # a ModelInferResponse as a dict, as KServe accepts
                    return pb.ModelInferResponse(**{"id": rid, "model_name": model, **result})
                result = result_to_infer_response(result, model, internal)
            return convert.infer_response_to_grpc(result, internal)
        except Exception as exc:
            code = status_of(exc)[1]
            if self.dataplane.repository.get_model(model) is None:
                model = ""
            await self._abort(context, exc, "ModelInfer")
            raise
        finally:
            self.metrics.observe_request(model, "grpc-v2", code, time.perf_counter() - started)
            self._request_id.reset(token)

    async def RepositoryModelLoad(self, request: Any, context: Any) -> Any:
        await self._repository_disabled(context, "RepositoryModelLoad")
        try:
            await self.dataplane.load(request.model_name)
        except Exception as exc:
            if not isinstance(exc, ModelNotReady) and status_of(exc)[0] == 500:
                exc = ModelNotReady(request.model_name, str(exc))
            await self._abort(context, exc, "RepositoryModelLoad")
            raise
        return pb.RepositoryModelLoadResponse(model_name=request.model_name, isLoaded=True)

    async def RepositoryModelUnload(self, request: Any, context: Any) -> Any:
        await self._repository_disabled(context, "RepositoryModelUnload")
        try:
            await self.dataplane.unload(request.model_name)
        except Exception as exc:
            await self._abort(context, exc, "RepositoryModelUnload")
            raise
        return pb.RepositoryModelUnloadResponse(model_name=request.model_name, isUnloaded=True)


async def start_grpc_server(
    dataplane: DataPlane,
    metrics: ServerMetrics,
    request_id: ContextVar[str | None],
    host: str,
    port: int,
    max_message_length: int = 8 * 1024 * 1024,
    *,
    enable_model_repository: bool = False,
) -> tuple[Any, int]:
    """Start a grpc.aio server for the data plane.

    Args:
        dataplane: the data plane.
        metrics: the server's metrics.
        request_id: the server's request id context variable.
        host: address to bind (only this one: ``127.0.0.1`` keeps gRPC on loopback).
        port: port to bind; 0 picks a free one.
        max_message_length: largest message sent or received (larger: ``RESOURCE_EXHAUSTED``).
        enable_model_repository: serve the repository RPCs.

    Returns:
        ``(server, bound_port)``; stop it with ``await server.stop(grace)``.

    Raises:
        PortInUse: the address cannot be bound; the message names it and ``--grpc_port``.
    """
    server = grpc.aio.server(
        options=[
            ("grpc.max_send_message_length", max_message_length),
            ("grpc.max_receive_message_length", max_message_length),
            ("grpc.so_reuseport", 0),
        ]
    )
    servicer = InferenceServicer(dataplane, metrics, request_id, enable_model_repository)
    handlers = method_handlers(servicer)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_SERVICE, handlers),))
    server.add_registered_method_handlers(_SERVICE, handlers)
    from zeroserve.servers.seldon.grpc_services import seldon_handlers  # Seldon's prediction.proto

    server.add_generic_rpc_handlers(seldon_handlers(dataplane))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:  # grpc says only "Failed to bind to address ..."
        bound = 0
    if bound == 0:
        await server.stop(None)
        raise PortInUse(host, port, "--grpc_port", "address already in use or not available")
    await server.start()
    return server, bound
