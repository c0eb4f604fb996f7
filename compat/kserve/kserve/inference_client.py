"""``kserve.InferenceRESTClient`` and ``kserve.InferenceGRPCClient``: KServe's asynchronous clients.

Same methods, arguments and results as KServe 0.21's (``infer``, ``explain``, ``is_server_ready``,
``is_server_live``, ``is_model_ready``, ``close``, async context managers), built on httpx, grpc and
zeroserve's codecs (``zeroserve.servers.protocols.v2_rest``, ``zeroserve.servers.grpc.convert``).
Non-2xx REST answers raise ``httpx.HTTPStatusError`` carrying the server's ``error`` message, as
KServe's do; gRPC failures raise ``grpc.RpcError``.
"""

# ruff: noqa: ASYNC109
# (KServe's client methods take a ``timeout`` argument; it is passed to httpx / grpc per call)
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
import httpx
import orjson

from kserve.model import PredictorProtocol
from zeroserve.servers.errors import UnsupportedProtocol
from zeroserve.servers.grpc import convert
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2 as pb
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from zeroserve.servers.protocols import v2_rest
from zeroserve.servers.types import InferRequest, InferResponse

__all__ = ["InferenceGRPCClient", "InferenceRESTClient", "RESTConfig"]

_HEADER_LENGTH = "inference-header-content-length"
_MAX_MESSAGE = 2**31 - 1


class RESTConfig:
    """Options of :class:`InferenceRESTClient` (KServe's ``RESTConfig``).

    Args:
        transport: an httpx transport (tests, proxies).
        protocol: ``v1`` or ``v2`` (or a :class:`~kserve.model.PredictorProtocol`).
        retries: connection retries.
        http2: speak HTTP/2.
        timeout: seconds per request (httpx's timeout forms too).
        cert: client certificate.
        verify: TLS verification (bool, CA bundle path or SSL context).
        auth: an httpx auth.
        verbose: accepted for KServe compatibility.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        protocol: str | PredictorProtocol = "v1",
        retries: int = 3,
        http2: bool = False,
        timeout: Any = 60,
        cert: Any = None,
        verify: Any = True,
        auth: Any = None,
        verbose: bool = False,
    ) -> None:
        self.protocol = protocol.value if isinstance(protocol, PredictorProtocol) else protocol
        self.transport = transport or httpx.AsyncHTTPTransport(
            retries=retries, http2=http2, cert=cert, verify=verify
        )
        self.retries = retries
        self.http2 = http2
        self.timeout = timeout
        self.cert = cert
        self.verify = verify
        self.auth = auth
        self.verbose = verbose


class InferenceRESTClient:
    """KServe's asynchronous REST client (V1 and V2).

    Args:
        config: the client's options; defaults to V1.
    """

    def __init__(self, config: RESTConfig | None = None) -> None:
        self._config = config if config is not None else RESTConfig()
        self._client = httpx.AsyncClient(
            transport=self._config.transport,
            http2=self._config.http2,
            timeout=self._config.timeout,
            auth=self._config.auth,
        )

    async def __aenter__(self) -> InferenceRESTClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections."""
        await self._client.aclose()

    @property
    def _protocol(self) -> str:
        protocol = self._config.protocol
        if protocol not in ("v1", "v2"):
            raise UnsupportedProtocol(f"Unsupported protocol {protocol}")
        return protocol

    async def infer(
        self,
        base_url: str | httpx.URL,
        data: InferRequest | dict[str, Any],
        model_name: str | None = None,
        headers: Mapping[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
        is_graph_endpoint: bool = False,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> InferResponse | dict[str, Any]:
        """Run inference: V1 answers a dict, V2 an :class:`InferResponse`, a graph endpoint a dict.

        Args:
            base_url: ``http(s)://host[:port]`` (the full URL for a graph endpoint).
            data: a dict, or an :class:`InferRequest` (V2; its binary tensors use the binary extension).
            model_name: the model (required unless ``is_graph_endpoint``).
            headers: extra request headers.
            response_headers: filled with the answer's headers.
            is_graph_endpoint: post to ``base_url`` itself and return the JSON answer.
            timeout: overrides the configured timeout.

        Raises:
            ValueError: no ``model_name`` for a model endpoint.
            httpx.HTTPStatusError: a non-2xx answer.
        """
        if is_graph_endpoint:
            url = httpx.URL(str(base_url))
        elif model_name is None:
            raise ValueError("model_name should not be 'None'")
        elif self._protocol == "v1":
            url = _join(base_url, f"v1/models/{model_name}:predict")
        else:
            url = _join(base_url, f"v2/models/{model_name}/infer")
        out_headers = dict(headers or {})
        if isinstance(data, InferRequest):
            body, json_length = v2_rest.encode_infer_request(data)
            if json_length is not None:
                out_headers[_HEADER_LENGTH] = str(json_length)
                out_headers.setdefault("content-type", "application/octet-stream")
        else:
            body = orjson.dumps(data)
        if not any(k.lower() == "content-type" for k in out_headers):
            out_headers["content-type"] = "application/json"
        response = await self._client.post(url, content=body, headers=out_headers, timeout=timeout)
        _raise_for_status(response)
        if response_headers is not None:
            response_headers.update(response.headers)
        if is_graph_endpoint or self._protocol == "v1":
            answer: dict[str, Any] = orjson.loads(response.content)
            return answer
        length = response.headers.get(_HEADER_LENGTH)
        return v2_rest.decode_infer_response(response.content, int(length) if length else None)

    async def explain(
        self,
        base_url: str | httpx.URL,
        model_name: str,
        data: dict[str, Any],
        headers: Mapping[str, str] | None = None,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> dict[str, Any]:
        """V1 ``:explain``; the answer as a dict.

        Raises:
            UnsupportedProtocol: the client speaks V2 (KServe explains over V1 only).
            httpx.HTTPStatusError: a non-2xx answer.
        """
        if self._protocol != "v1":
            raise UnsupportedProtocol(f"Unsupported protocol {self._protocol}")
        out_headers = {"content-type": "application/json", **(headers or {})}
        url = _join(base_url, f"v1/models/{model_name}:explain")
        response = await self._client.post(
            url, content=orjson.dumps(data), headers=out_headers, timeout=timeout
        )
        _raise_for_status(response)
        answer: dict[str, Any] = orjson.loads(response.content)
        return answer

    async def is_server_ready(
        self,
        base_url: str | httpx.URL,
        headers: Mapping[str, str] | None = None,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> bool:
        """V2 ``/v2/health/ready``.

        Raises:
            UnsupportedProtocol: the client speaks V1 (which has no readiness route).
            httpx.HTTPStatusError: a non-2xx answer.
        """
        if self._protocol != "v2":
            raise UnsupportedProtocol(f"Unsupported protocol {self._protocol}")
        return bool(await self._get(_join(base_url, "v2/health/ready"), headers, timeout, "ready"))

    async def is_server_live(
        self,
        base_url: str | httpx.URL,
        headers: Mapping[str, str] | None = None,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> bool:
        """V1 ``/`` (``{"status": "alive"}``) or V2 ``/v2/health/live``.

        Raises:
            httpx.HTTPStatusError: a non-2xx answer.
        """
        if self._protocol == "v1":
            return bool(await self._get(_join(base_url, ""), headers, timeout, "status") == "alive")
        return bool(await self._get(_join(base_url, "v2/health/live"), headers, timeout, "live"))

    async def is_model_ready(
        self,
        base_url: str | httpx.URL,
        model_name: str,
        headers: Mapping[str, str] | None = None,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> bool:
        """V1 ``/v1/models/<m>`` or V2 ``/v2/models/<m>/ready``; False while the model is not ready (503).

        Raises:
            httpx.HTTPStatusError: any other non-2xx answer (404 for an unknown model).
        """
        path = f"v1/models/{model_name}" if self._protocol == "v1" else f"v2/models/{model_name}/ready"
        response = await self._client.get(_join(base_url, path), headers=headers, timeout=timeout)
        if response.status_code == 503:
            return False
        _raise_for_status(response)
        return bool(response.json().get("ready"))

    async def _get(self, url: httpx.URL, headers: Mapping[str, str] | None, timeout: Any, key: str) -> Any:
        response = await self._client.get(url, headers=headers, timeout=timeout)
        _raise_for_status(response)
        return response.json().get(key)


class InferenceGRPCClient:
    """KServe's asynchronous V2 gRPC client.

    Args:
        url: ``host:port`` of the server.
        verbose: accepted for KServe compatibility.
        use_ssl: a TLS channel (with ``root_certificates`` / ``private_key`` / ``certificate_chain``).
        root_certificates: PEM bytes of the CA.
        private_key: PEM bytes of the client key.
        certificate_chain: PEM bytes of the client certificate.
        creds: ready-made channel credentials (win over the PEM arguments).
        channel_args: extra channel options.
        timeout: seconds per call (default 60).
        retries: accepted for KServe compatibility (gRPC's own retry policy applies).
    """

    def __init__(
        self,
        url: str,
        verbose: bool = False,
        use_ssl: bool = False,
        root_certificates: bytes | None = None,
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
        creds: grpc.ChannelCredentials | None = None,
        channel_args: list[tuple[str, Any]] | None = None,
        timeout: float | None = 60,
        retries: int = 3,
    ) -> None:
        options = [
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
        ]
        options.extend(channel_args or [])
        if use_ssl or creds is not None:
            credentials = creds or grpc.ssl_channel_credentials(
                root_certificates, private_key, certificate_chain
            )
            self._channel = grpc.aio.secure_channel(url, credentials, options=options)
        else:
            self._channel = grpc.aio.insecure_channel(url, options=options)
        self._stub = pb_grpc.GRPCInferenceServiceStub(self._channel)
        self._timeout = timeout
        self.retries = retries

    async def __aenter__(self) -> InferenceGRPCClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def infer(
        self,
        infer_request: InferRequest,
        timeout: float | None = None,
        headers: Any = None,
    ) -> InferResponse:
        """Run inference. ``BYTES`` inputs travel as ``bytes_contents``, others as raw contents.

        Args:
            infer_request: the request (its ``model_name`` names the model).
            timeout: seconds; the client's timeout when omitted.
            headers: metadata, as a mapping or ``(key, value)`` pairs.

        Raises:
            grpc.RpcError: the server failed the call.
        """
        message = convert.infer_request_to_grpc(infer_request)
        for index, tensor in enumerate(infer_request.inputs):
            if tensor.datatype == "BYTES" and tensor.raw_data is None:
                values = [v.encode() if isinstance(v, str) else bytes(v) for v in tensor.as_numpy().ravel()]
                message.inputs[index].contents.bytes_contents.extend(values)
                message.raw_input_contents[index] = b""
        if not any(message.raw_input_contents):
            del message.raw_input_contents[:]
        reply = await self._stub.ModelInfer(
            message, timeout=self._timeout_of(timeout), metadata=_metadata(headers)
        )
        return convert.infer_response_from_grpc(reply)

    async def is_server_ready(self, timeout: float | None = None, headers: Any = None) -> bool:
        """``ServerReady``."""
        reply = await self._stub.ServerReady(
            pb.ServerReadyRequest(), timeout=self._timeout_of(timeout), metadata=_metadata(headers)
        )
        return bool(reply.ready)

    async def is_server_live(self, timeout: float | None = None, headers: Any = None) -> bool:
        """``ServerLive``."""
        reply = await self._stub.ServerLive(
            pb.ServerLiveRequest(), timeout=self._timeout_of(timeout), metadata=_metadata(headers)
        )
        return bool(reply.live)

    async def is_model_ready(
        self,
        model_name: str,
        model_version: str | None = None,
        timeout: float | None = None,
        headers: Any = None,
    ) -> bool:
        """``ModelReady`` of ``model_name``."""
        request = pb.ModelReadyRequest(name=model_name, version=model_version or "")
        reply = await self._stub.ModelReady(
            request, timeout=self._timeout_of(timeout), metadata=_metadata(headers)
        )
        return bool(reply.ready)

    def _timeout_of(self, timeout: float | None) -> float | None:
        return timeout if timeout is not None else self._timeout


def _join(base_url: str | httpx.URL, path: str) -> httpx.URL:
    base = httpx.URL(str(base_url))
    if base.scheme not in ("http", "https"):
        raise httpx.InvalidURL("Base url should have 'http://' or 'https://' protocol")
    return base.join(base.path.rstrip("/") + "/" + path)


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    message = ""
    if response.headers.get("content-type") == "application/json":
        doc = response.json()
        message = doc.get("error", doc) if isinstance(doc, dict) else doc
    raise httpx.HTTPStatusError(
        f"{message}, '{response.status_code} {response.reason_phrase}' for url '{response.url}'",
        request=response.request,
        response=response,
    )


def _metadata(headers: Any) -> tuple[tuple[str, str], ...] | None:
    if not headers:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(k).lower(), str(v)) for k, v in items)
