"""The ``Model`` base class: KServe's model contract.

A model has a ``name`` and a ``ready`` flag, is loaded once with :meth:`Model.load`, and answers a
request through ``preprocess -> predict -> postprocess`` (or ``explain``). Each hook may be a plain
or an ``async`` method; the data plane awaits whatever is awaitable. V1 payloads reach the hooks
as dicts, V2 (REST and gRPC) payloads as :class:`~zeroserve.servers.types.InferRequest`, as in KServe.

In transformer mode (a :class:`~zeroserve.servers.transformer.PredictorConfig` given), the default
:meth:`Model.predict` forwards the payload to the predictor through :attr:`Model.predictor_client`,
which the server injects; this class holds no HTTP client of its own.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from zeroserve.servers.transformer.config import PredictorConfig, PredictorProtocol

__all__ = ["Model", "PredictorClient"]

Headers = Mapping[str, str]


class PredictorClient(Protocol):
    """What a transformer needs from a predictor connection (see ``zeroserve.servers.transformer``)."""

    async def predict(self, model_name: str, payload: Any, headers: Headers | None = None) -> Any:
        """Send ``payload`` to the predictor's model ``model_name`` and return its decoded answer."""
        ...

    async def explain(self, model_name: str, payload: Any, headers: Headers | None = None) -> Any:
        """Send ``payload`` to the predictor's ``:explain`` and return its decoded answer."""
        ...

    async def aclose(self) -> None:
        """Release the connection."""
        ...


class Model:
    """Base class of every served model (KServe's ``kserve.Model``).

    Args:
        name: the model's name on the wire (``/v1/models/<name>``, ``/v2/models/<name>``).
        predictor_config: where the predictor is, for a transformer; ``None`` for a predictor.
        return_response_headers: accepted for KServe compatibility; response headers are returned
            whenever ``predict`` / ``postprocess`` take a ``response_headers`` argument.
    """

    def __init__(
        self,
        name: str,
        predictor_config: PredictorConfig | None = None,
        return_response_headers: bool = False,
    ) -> None:
        self.name = name
        self.ready = False
        self.predictor_config = predictor_config
        self.return_response_headers = return_response_headers
        self.predictor_client: PredictorClient | None = None
        """Injected by the server for a transformer (a model with a ``predictor_config``)."""

    @property
    def predictor_host(self) -> str | None:
        """The predictor's ``host[:port]`` in transformer mode (KServe's attribute)."""
        return self.predictor_config.predictor_host if self.predictor_config else None

    @predictor_host.setter
    def predictor_host(self, value: str | None) -> None:
        # KServe transformers written before PredictorConfig assign ``self.predictor_host`` directly.
        if not value:
            self.predictor_config = None
        elif self.predictor_config is None:
            protocol: PredictorProtocol = getattr(self, "_pending_protocol", "v1")
            self.predictor_config = PredictorConfig(value, protocol)
        else:
            self.predictor_config = replace(self.predictor_config, predictor_host=value)

    @property
    def protocol(self) -> str:
        """The predictor protocol in transformer mode, else ``v1`` (KServe's attribute)."""
        return self.predictor_config.predictor_protocol if self.predictor_config else "v1"

    @protocol.setter
    def protocol(self, value: str) -> None:
        if value not in ("v1", "v2", "grpc-v2"):
            raise ValueError(f"predictor protocol must be v1, v2 or grpc-v2, got {value!r}")
        if self.predictor_config is not None:
            self.predictor_config = replace(self.predictor_config, predictor_protocol=value)  # type: ignore[arg-type]
        else:
            self._pending_protocol = value

    def load(self) -> bool | Awaitable[bool]:
        """Load the model; the base marks it ready.

        Returns:
            Whether the model is ready.
        """
        self.ready = True
        return self.ready

    def start(self) -> None:
        """Called by the server once it serves the model (KServe hook)."""

    def stop(self) -> None:
        """Called when the model is unloaded or the server stops (KServe hook)."""

    def healthy(self) -> bool | Awaitable[bool]:
        """Whether the model can serve; by default its ``ready`` flag."""
        return self.ready

    def preprocess(self, payload: Any, headers: Headers | None = None) -> Any:
        """Transform the request payload before ``predict``; identity by default."""
        return payload

    def postprocess(self, result: Any, headers: Headers | None = None) -> Any:
        """Transform ``predict``'s result before it is encoded; identity by default."""
        return result

    async def predict(self, payload: Any, headers: Headers | None = None) -> Any:
        """Compute an answer. In transformer mode, forward ``payload`` to the predictor.

        Args:
            payload: a dict (V1) or an ``InferRequest`` (V2), after ``preprocess``.
            headers: the request's headers (lower-case names).

        Returns:
            A dict (V1 ``{"predictions": ...}``), an ``InferResponse``, or an array/list the server
            wraps as ``predictions`` (V1) or ``output-0`` (V2).
        """
        if self.predictor_client is not None:
            return await self.predictor_client.predict(self.name, payload, _forwarded(headers))
        raise NotImplementedError(f"Model {self.name} does not implement predict and has no predictor_host")

    async def explain(self, payload: Any, headers: Headers | None = None) -> Any:
        """Explain a prediction; forwards to the predictor's ``:explain`` in transformer mode."""
        if self.predictor_client is not None:
            return await self.predictor_client.explain(self.name, payload, _forwarded(headers))
        raise NotImplementedError(f"Model {self.name} does not implement explain")

    def get_input_types(self) -> list[dict[str, Any]]:
        """The model's input tensors as ``{"name", "datatype", "shape"}`` dicts (V2 metadata).

        When not empty, V2 requests are checked against it: each input must exist, with that datatype
        and a compatible shape (``-1`` matches any size).
        """
        return []

    def get_output_types(self) -> list[dict[str, Any]]:
        """The model's output tensors as ``{"name", "datatype", "shape"}`` dicts (V2 metadata)."""
        return []

    async def __call__(self, payload: Any, headers: Headers | None = None, verb: str = "predict") -> Any:
        """Run ``preprocess -> predict|explain -> postprocess`` (for direct use and tests)."""
        payload = await maybe_await(self.preprocess(payload, headers))
        handler = self.explain if verb == "explain" else self.predict
        result = await maybe_await(handler(payload, headers))
        return await maybe_await(self.postprocess(result, headers))


async def maybe_await(value: Any) -> Any:
    """``await value`` when it is awaitable, else return it (for hooks that may be sync or async)."""
    if inspect.isawaitable(value):
        return await value
    return value


_HOP_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "connection",
        "transfer-encoding",
        "inference-header-content-length",
        "accept-encoding",
    }
)


def _forwarded(headers: Headers | None) -> dict[str, str] | None:
    if not headers:
        return None
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}
