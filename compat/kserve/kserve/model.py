"""``kserve.model``: KServe's ``Model`` on zeroserve's model contract.

:class:`Model` is :class:`zeroserve.servers.Model` with KServe's extra names; requests run through
zeroserve's data plane, which calls the same hooks with the same arguments as KServe's
(``preprocess`` / ``predict`` / ``postprocess`` with ``headers`` and, where the hook takes it,
``response_headers``). A transformer's predictor is the model's own ``PredictorConfig`` when given
(KServe before 0.15), else the server-wide one ``ModelServer`` sets from its ``--predictor_*`` flags
(KServe 0.15 and later).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from kserve.predictor_config import PredictorConfig, get_predictor_config
from kserve.protocol.infer_type import InferResponse
from zeroserve.servers.model import Model as _ZeroserveModel
from zeroserve.servers.model import maybe_await
from zeroserve.servers.transformer.config import PredictorConfig as _ZeroserveConfig
from zeroserve.servers.types import InferResponse as _ZeroserveInferResponse

__all__ = ["BaseKServeModel", "InferenceVerb", "Model", "PredictorConfig", "PredictorProtocol"]

FORWARDABLE_HEADERS = frozenset({"x-request-id", "x-b3-traceid", "authorization"})
"""The request headers a transformer passes on to its predictor, as KServe 0.21: nothing else, so
headers a ``preprocess`` adds for itself (KServe's examples set ``request-type``) stay local."""


class PredictorProtocol(enum.Enum):
    """The protocol a transformer speaks to its predictor (KServe's enum, same values)."""

    REST_V1 = "v1"
    REST_V2 = "v2"
    GRPC_V2 = "grpc-v2"


class InferenceVerb(enum.Enum):
    """What a request asks of a model (KServe's enum, same values)."""

    EXPLAIN = "explain"
    PREDICT = "predict"


class Model(_ZeroserveModel):
    """KServe's ``kserve.Model``: subclass it, set ``self.ready`` in ``load``, write ``predict``.

    Args:
        name: the model's name on the wire.
        *args: KServe 0.21's ``return_response_headers`` (a bool), or before 0.15 a
            ``predictor_config`` then ``return_response_headers``.
        return_response_headers: hooks that take ``response_headers`` get them (as in KServe).
        predictor_config: this model's predictor; a config without a host means none.
    """

    def __init__(
        self,
        name: str,
        *args: Any,
        return_response_headers: bool = False,
        predictor_config: _ZeroserveConfig | None = None,
    ) -> None:
        for arg in args:
            if isinstance(arg, _ZeroserveConfig) or arg is None:
                predictor_config = arg
            else:
                return_response_headers = bool(arg)
        self._own_predictor_config: _ZeroserveConfig | None = None
        super().__init__(name, predictor_config, return_response_headers)
        self.engine = False
        self.enable_latency_logging = False
        self.explainer_host: str | None = None

    @property
    def predictor_config(self) -> _ZeroserveConfig | None:
        """This model's predictor config, else the server's (``--predictor_host``), else ``None``."""
        own = self._own_predictor_config
        return own if own is not None else get_predictor_config()

    @predictor_config.setter
    def predictor_config(self, value: _ZeroserveConfig | None) -> None:
        self._own_predictor_config = value if value is not None and value.predictor_host else None

    @property
    def required_response_headers(self) -> bool:
        """KServe's name of ``return_response_headers``."""
        return self.return_response_headers

    def postprocess(
        self,
        result: Any,
        headers: Mapping[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> Any:
        """Transform ``predict``'s result; identity by default (KServe's signature)."""
        return result

    async def predict(
        self,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> Any:
        """Forward ``payload`` to the predictor (transformer mode), with KServe's forwardable headers.

        Raises:
            NotImplementedError: the model has no predictor and no ``predict`` of its own.
        """
        if self.predictor_client is None:
            raise NotImplementedError(
                f"Model {self.name} does not implement predict and has no predictor_host"
            )
        result = await self.predictor_client.predict(self.name, payload, _forwardable(headers))
        if type(result) is _ZeroserveInferResponse:  # the predictor's answer, encoded as KServe would
            result.__class__ = InferResponse
            if result.from_grpc and result.model_version is None:
                result.model_version = ""  # what KServe's from_grpc keeps of an unset version
            for output in result.outputs:
                if output.raw_data is None:  # typed contents: KServe keeps them as a list
                    output.data = output.data
        return result

    async def explain(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Forward ``payload`` to the predictor's ``:explain``, with KServe's forwardable headers.

        Raises:
            NotImplementedError: the model has no predictor and no ``explain`` of its own.
        """
        if self.predictor_client is None:
            raise NotImplementedError(f"Model {self.name} does not implement explain")
        return await self.predictor_client.explain(self.name, payload, _forwardable(headers))

    async def __call__(  # type: ignore[override]
        self,
        body: Any,
        headers: Mapping[str, str] | None = None,
        verb: InferenceVerb = InferenceVerb.PREDICT,
    ) -> tuple[Any, dict[str, str]]:
        """Run ``preprocess -> validate -> predict|explain -> postprocess`` as KServe 0.21's ``__call__``.

        The server does not call this (it runs the same hooks itself); it is for code and tests that
        call a model directly.

        Returns:
            ``(response, response_headers)``; the headers are filled by hooks when
            ``return_response_headers`` is set.
        """
        response_headers: dict[str, str] = {}
        with_headers = self.return_response_headers
        payload = self.validate(await maybe_await(self.preprocess(body, headers)))
        if verb is InferenceVerb.EXPLAIN:
            response = await maybe_await(self.explain(payload, headers))
        elif with_headers:
            response = await maybe_await(self.predict(payload, headers, response_headers))
        else:
            response = await maybe_await(self.predict(payload, headers))
        if with_headers:
            response = await maybe_await(self.postprocess(response, headers, response_headers))
        else:
            response = await maybe_await(self.postprocess(response, headers))
        return response, response_headers

    def validate(self, payload: Any) -> Any:
        """KServe's check of a V1 / V2 payload; zeroserve's codecs check it before ``preprocess``."""
        return payload


def _forwardable(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    if not headers:
        return None
    return {k: v for k, v in headers.items() if k.lower() in FORWARDABLE_HEADERS} or None


BaseKServeModel = Model
"""KServe's base class of every model (one class here)."""
