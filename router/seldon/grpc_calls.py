"""Calls to a graph's components over gRPC (``prediction.proto``), for units whose endpoint is ``GRPC``.

The walk hands over the same JSON documents it sends over REST; they are turned into the request
message with protobuf's JSON mapping and the answer turned back, so the walk does not know which
transport a unit speaks. A wrapper path maps to its service and method: ``/api/v1.0/predictions`` ->
``Model/Predict``, ``/route`` -> ``Router/Route``, ``/aggregate`` -> ``Combiner/Aggregate``,
``/transform-input`` -> ``Transformer/TransformInput``, ``/transform-output`` ->
``OutputTransformer/TransformOutput``, ``/api/v1.0/feedback`` -> ``Model/SendFeedback`` (``Router`` for a
router).

Where the process has an ``HTTP_PROXY`` (a local instance: the gateway) and the unit's host is not in
``NO_PROXY``, the call goes to the proxy's address with the unit's host as ``:authority``, so the gateway
routes it (and holds it while the component scales from zero) as it does REST calls. A component's
gRPC status becomes a :class:`~zeroserve.router.seldon.messages.SeldonError` with the matching HTTP
status (``INVALID_ARGUMENT`` 400, ``NOT_FOUND`` 404, ``DEADLINE_EXCEEDED`` 504, ``UNAVAILABLE`` 503,
else 500) and the component's details as ``info``.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

import grpc
from google.protobuf import json_format

from zeroserve.protos import seldon_prediction_pb2 as pb
from zeroserve.router.seldon.messages import SeldonError

__all__ = ["GrpcComponents", "method_of"]

_METHODS: dict[str, tuple[str, str, Any]] = {
    "/api/v1.0/predictions": ("Model", "Predict", pb.SeldonMessage),
    "/route": ("Router", "Route", pb.SeldonMessage),
    "/aggregate": ("Combiner", "Aggregate", pb.SeldonMessageList),
    "/transform-input": ("Transformer", "TransformInput", pb.SeldonMessage),
    "/transform-output": ("OutputTransformer", "TransformOutput", pb.SeldonMessage),
    "/api/v1.0/feedback": ("Model", "SendFeedback", pb.Feedback),
}
_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNAVAILABLE: 503,
}
_LIMIT = 64 * 1024 * 1024


def method_of(path: str, unit_type: str) -> tuple[str, Any]:
    """The full gRPC method name and request type of a wrapper REST path.

    Args:
        path: the wrapper path the walk calls (``/route``, ``/api/v1.0/predictions``...).
        unit_type: the unit's type (feedback to a ROUTER goes to ``Router/SendFeedback``).

    Returns:
        ``("/seldon.protos.<Service>/<Method>", request message class)``.
    """
    service, method, request = _METHODS[path]
    if method == "SendFeedback" and unit_type == "ROUTER":
        service = "Router"
    return f"/seldon.protos.{service}/{method}", request


def _proxy_for(host: str) -> str | None:
    """``host:port`` of the ``HTTP_PROXY`` that calls to ``host`` go through, if any."""
    proxy = os.environ.get("HTTP_PROXY") or os.environ.get("http_proxy")
    if not proxy:
        return None
    skip = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    for entry in (e.strip().lower() for e in skip.split(",")):
        if entry and (entry == "*" or host == entry or host.endswith("." + entry.lstrip("."))):
            return None
    parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not parsed.hostname:
        return None
    return f"{parsed.hostname}:{parsed.port or 80}"


class GrpcComponents:
    """gRPC channels to components, one per address, reused across calls."""

    def __init__(self) -> None:
        self._channels: dict[tuple[str, str], grpc.aio.Channel] = {}

    def _channel(self, host: str, port: int) -> grpc.aio.Channel:
        authority = f"{host}:{port}"
        target = _proxy_for(host.lower()) or authority
        key = (target, authority)
        channel = self._channels.get(key)
        if channel is None:
            options: list[tuple[str, str | int]] = [
                ("grpc.enable_http_proxy", 0),  # the gateway is reached directly, not by CONNECT
                ("grpc.max_send_message_length", _LIMIT),
                ("grpc.max_receive_message_length", _LIMIT),
            ]
            if target != authority:
                options.append(("grpc.default_authority", authority))
            channel = grpc.aio.insecure_channel(target, options=options)
            self._channels[key] = channel
        return channel

    async def call(
        self,
        unit: str,
        unit_type: str,
        address: tuple[str, int],
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        seconds: float | None,
    ) -> dict[str, Any]:
        """Call one component; the request and answer in their JSON form.

        Args:
            unit: the unit's name, for messages.
            unit_type: its type.
            address: ``(host, port)`` of its gRPC endpoint.
            path: the wrapper path the walk would call over REST.
            body: the request document.
            headers: metadata to pass on (``seldon-puid``, ``x-request-id``, trace context).
            seconds: how long the call may take (``None``: no limit).

        Returns:
            The answer as a JSON document.

        Raises:
            SeldonError: when the document does not fit the message or the component fails.
        """
        method, request_type = method_of(path, unit_type)
        try:
            request = json_format.ParseDict(body, request_type(), ignore_unknown_fields=True)
        except (json_format.ParseError, TypeError, ValueError) as exc:
            raise SeldonError(
                400, f"the message for unit {unit!r} is not a valid {request_type.DESCRIPTOR.name}: {exc}"
            ) from None
        stub = self._channel(*address).unary_unary(
            method,
            request_serializer=request_type.SerializeToString,
            response_deserializer=pb.SeldonMessage.FromString,
        )
        metadata = tuple((k.lower(), v) for k, v in headers.items())
        try:
            answer = await stub(request, metadata=metadata, timeout=seconds)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.DEADLINE_EXCEEDED and seconds is not None:
                raise SeldonError(
                    504, f"unit {unit!r} did not answer within {seconds}s", "UNIT_TIMEOUT"
                ) from None
            status = _STATUS.get(code, 500)
            reason = "UNIT_UNREACHABLE" if code == grpc.StatusCode.UNAVAILABLE else "UNIT_ERROR"
            info = f"unit {unit!r} answered {code.name} on {method}: {exc.details()}"
            raise SeldonError(status, info, reason) from None
        result: dict[str, Any] = json_format.MessageToDict(answer)
        return result

    async def close(self) -> None:
        """Close every channel."""
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
