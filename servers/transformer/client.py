"""Predictor clients for transformer mode: V1 / V2 over REST (httpx) and V2 over gRPC.

A transformer's default ``predict`` sends its preprocessed payload here, as KServe's does: V1 to
``/v1/models/<name>:predict``, V2 to ``/v2/models/<name>/infer``, gRPC to ``ModelInfer``. httpx
honours ``HTTP_PROXY`` / ``NO_PROXY``, so cluster addresses resolve through the local gateway
(docs/contracts.md). A predictor's error answer is passed on with its status and message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from zeroserve.process import tracing
from zeroserve.servers.errors import InvalidInput, PredictorError
from zeroserve.servers.model import PredictorClient
from zeroserve.servers.protocols import v2_rest
from zeroserve.servers.transformer.config import PredictorConfig
from zeroserve.servers.types import InferRequest, InferResponse

__all__ = ["GrpcPredictorClient", "RestPredictorClient", "create_predictor_client"]

Headers = Mapping[str, str]

_GRPC_TO_HTTP = {
    "INVALID_ARGUMENT": 400,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 413,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
_HTTP_TO_GRPC = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    413: "RESOURCE_EXHAUSTED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}


def create_predictor_client(
    config: PredictorConfig, transport: httpx.AsyncBaseTransport | None = None
) -> PredictorClient:
    """The client for ``config.predictor_protocol``.

    Args:
        config: where the predictor is and how to reach it.
        transport: an httpx transport for REST (tests, custom networking).

    Returns:
        A :class:`~zeroserve.servers.model.PredictorClient`.
    """
    if config.predictor_protocol == "grpc-v2":
        return GrpcPredictorClient(config)
    return RestPredictorClient(config, transport)


class RestPredictorClient:
    """Talks V1 or V2 REST to a predictor.

    Args:
        config: the predictor's address, protocol and timeouts.
        transport: an httpx transport (tests); by default httpx's own, honouring ``HTTP_PROXY``.
    """

    def __init__(self, config: PredictorConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        host = config.predictor_host
        if "://" not in host:
            host = f"{'https' if config.predictor_use_ssl else 'http'}://{host}"
        self.base_url = host.rstrip("/")
        # No explicit transport by default, so httpx builds its own and honours HTTP_PROXY / NO_PROXY.
        timeout = config.predictor_request_timeout_seconds
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def predict(self, model_name: str, payload: Any, headers: Headers | None = None) -> Any:
        """Send ``payload`` to the predictor and decode its answer.

        Returns:
            V1: the JSON answer as a dict. V2: an :class:`InferResponse`.
        """
        out_headers = {k: v for k, v in (headers or {}).items() if k.lower() != v2_rest.HEADER_LENGTH}
        if self.config.predictor_protocol == "v1":
            if isinstance(payload, InferRequest):
                raise InvalidInput("transformer produced a V2 InferRequest but predictor_protocol is v1")
            url = f"{self.base_url}/v1/models/{model_name}:predict"
            body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
            out_headers["content-type"] = "application/json"
            return orjson.loads(await self._post(url, body, out_headers, "predict"))
        url = f"{self.base_url}/v2/models/{model_name}/infer"
        if isinstance(payload, InferRequest):
            body, length = v2_rest.encode_infer_request(payload)
        else:
            body, length = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), None
        if length is None:
            out_headers["content-type"] = "application/json"
        else:
            out_headers["content-type"] = "application/octet-stream"
            out_headers[v2_rest.HEADER_LENGTH] = str(length)
        response = await self._send(url, body, out_headers, "infer")
        header_length = response.headers.get(v2_rest.HEADER_LENGTH)
        return v2_rest.decode_infer_response(response.content, int(header_length) if header_length else None)

    async def explain(self, model_name: str, payload: Any, headers: Headers | None = None) -> Any:
        """Send ``payload`` to the predictor's V1 ``:explain``."""
        url = f"{self.base_url}/v1/models/{model_name}:explain"
        out_headers = dict(headers or {})
        out_headers["content-type"] = "application/json"
        body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
        return orjson.loads(await self._post(url, body, out_headers, "explain"))

    async def _post(self, url: str, body: bytes, headers: dict[str, str], what: str) -> bytes:
        return (await self._send(url, body, headers, what)).content

    async def _send(self, url: str, body: bytes, headers: dict[str, str], what: str) -> httpx.Response:
        if tracing.on:
            return await self._send_traced(url, body, headers, what)
        return await self._send_once(url, body, headers, what)

    async def _send_traced(self, url: str, body: bytes, headers: dict[str, str], what: str) -> httpx.Response:
        """The call in a client span; the predictor's spans become its children."""
        attributes = {"http.request.method": "POST", "url.full": url, "zeroserve.operation": what}
        with tracing.span(f"predictor {what}", kind="client", attributes=attributes) as span:
            headers = {k: v for k, v in headers.items() if k.lower() not in ("traceparent", "tracestate")}
            tracing.inject(headers)
            response = await self._send_once(url, body, headers, what)
            if span is not None:
                span.set_attribute("http.response.status_code", response.status_code)
            return response

    async def _send_once(self, url: str, body: bytes, headers: dict[str, str], what: str) -> httpx.Response:
        try:
            response = await self._post_with_retries(url, body, headers)
        except httpx.TimeoutException as exc:
            raise PredictorError(
                504, "DEADLINE_EXCEEDED", f"predictor {what} at {url} timed out: {exc}"
            ) from exc
        except httpx.HTTPError as exc:
            raise PredictorError(503, "UNAVAILABLE", f"predictor {what} at {url} unreachable: {exc}") from exc
        if response.status_code != 200:
            try:
                message = orjson.loads(response.content).get("error") or response.text
            except (orjson.JSONDecodeError, AttributeError):
                message = response.text
            code = response.status_code
            reason = f"predictor {what} at {url} answered {code}: {message}"
            raise PredictorError(code, _HTTP_TO_GRPC.get(code, "INTERNAL"), reason)
        return response

    async def _post_with_retries(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        attempts = self.config.predictor_request_retries
        while True:
            try:
                return await self._client.post(url, content=body, headers=headers)
            except httpx.ConnectError:
                if attempts <= 0:
                    raise
                attempts -= 1

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()


class GrpcPredictorClient:
    """Talks V2 gRPC (``ModelInfer``) to a predictor; the channel opens on first use."""

    def __init__(self, config: PredictorConfig) -> None:
        self.config = config
        self._channel: Any = None
        self._stub: Any = None

    def _ensure(self) -> Any:
        if self._stub is None:
            import grpc

            from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc

            target = self.config.predictor_host.split("://", 1)[-1]
            if self.config.predictor_use_ssl:
                self._channel = grpc.aio.secure_channel(target, grpc.ssl_channel_credentials())
            else:
                self._channel = grpc.aio.insecure_channel(target)
            self._stub = pb_grpc.GRPCInferenceServiceStub(self._channel)
        return self._stub

    async def predict(self, model_name: str, payload: Any, headers: Headers | None = None) -> InferResponse:
        """Send an :class:`InferRequest` to the predictor's ``ModelInfer``."""
        import grpc

        from zeroserve.servers.grpc import convert

        if not isinstance(payload, InferRequest):
            raise InvalidInput(
                "predictor_protocol grpc-v2 needs an InferRequest from preprocess, "
                f"got {type(payload).__name__}"
            )
        message = convert.infer_request_to_grpc(payload)
        message.model_name = model_name
        metadata = tuple((k.lower(), v) for k, v in (headers or {}).items() if k.lower() == "x-request-id")
        try:
            reply = await self._ensure().ModelInfer(
                message, timeout=self.config.predictor_request_timeout_seconds, metadata=metadata
            )
        except grpc.aio.AioRpcError as exc:
            name = exc.code().name
            reason = f"predictor ModelInfer at {self.config.predictor_host}: {exc.details()}"
            raise PredictorError(_GRPC_TO_HTTP.get(name, 500), name, reason) from exc
        return convert.infer_response_from_grpc(reply)

    async def explain(self, model_name: str, payload: Any, headers: Headers | None = None) -> Any:
        """Explanations have no gRPC RPC."""
        raise NotImplementedError("explain is not available over grpc-v2")

    async def aclose(self) -> None:
        """Close the channel."""
        if self._channel is not None:
            await self._channel.close()
