"""Seldon's operations over the data plane, transport-free (REST and gRPC only translate).

A :class:`~zeroserve.servers.seldon.model.SeldonModel` answers every operation through the data
plane (so readiness and the model's hooks apply as for any model); any other model (a prepackaged
server: sklearn, xgboost, ...) answers ``predict`` through its V1 ``instances``, accepts feedback
(it has nothing to learn from it) and reports its metadata and readiness.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from zeroserve.servers.dataplane import DataPlane
from zeroserve.servers.seldon import payload
from zeroserve.servers.seldon.errors import SeldonError
from zeroserve.servers.seldon.metadata import metadata_or_error
from zeroserve.servers.seldon.model import SeldonCall, SeldonModel
from zeroserve.servers.types import InferResponse

__all__ = ["SeldonService", "pick_model"]


def pick_model(names: list[str], headers: Mapping[str, str]) -> str:
    """The model a Seldon request is for: the ``seldon-model`` header, else the only model served."""
    wanted = headers.get("seldon-model")
    if wanted:
        return wanted
    if len(names) != 1:
        raise SeldonError(f"Seldon requests need a 'seldon-model' header when serving {len(names)} models")
    return names[0]


class SeldonService:
    """Runs Seldon operations on the models of a data plane.

    Args:
        dataplane: the models served.
    """

    def __init__(self, dataplane: DataPlane) -> None:
        self.dataplane = dataplane

    def model_name(self, headers: Mapping[str, str]) -> str:
        """The model a request is for (see :func:`pick_model`)."""
        return pick_model(self.dataplane.model_names(), headers)

    async def run(
        self, op: str, request: Any, headers: Mapping[str, str], native: Any = None, transport: str = "rest"
    ) -> Any:
        """Run ``op`` (``predict``, ``send_feedback``, ``route``, ``aggregate``, ``transform_input``,
        ``transform_output``, ``health_status``) on the request's model.

        Args:
            op: the operation.
            request: the request in JSON form.
            headers: request headers or gRPC metadata (``seldon-model`` picks the model).
            native: the request as the transport got it, for the user's raw hooks.
            transport: ``rest`` or ``grpc``.

        Returns:
            The answer in JSON form, or whatever a raw hook returned.
        """
        name = self.model_name(headers)
        model = self.dataplane.get_model(name)
        if isinstance(model, SeldonModel):
            return await self.dataplane.infer(name, SeldonCall(op, request, native, transport), dict(headers))
        if op == "predict":
            return await self._prepackaged_predict(name, request, headers)
        if op == "send_feedback":
            if not isinstance(request, dict):
                raise SeldonError("the request must be a Feedback object: {request, response, reward, truth}")
            payload.require_message(request.get("request") or {}, "feedback.request")
            return {"data": {"names": [], "ndarray": []}, "meta": {}}
        if op == "health_status":
            ready = await self.dataplane.model_ready(name)
            return {"status": {"code": 200 if ready else 503, "status": "SUCCESS" if ready else "FAILURE"}}
        raise SeldonError(
            f"model {name!r} is a prepackaged server: it answers predictions and feedback, not {op}", 404
        )

    async def metadata(self, headers: Mapping[str, str], name: str | None = None) -> dict[str, Any]:
        """The model's ``SeldonModelMetadata`` in JSON form."""
        name = name or self.model_name(headers)
        model = self.dataplane.get_model(name)
        if isinstance(model, SeldonModel):
            return metadata_or_error(model.component)
        v2 = await self.dataplane.model_metadata(name)
        return {
            "name": v2.get("name", name),
            "versions": [str(v) for v in v2.get("versions") or []],
            "platform": v2.get("platform", ""),
            "inputs": [dict(t) for t in v2.get("inputs") or []],
            "outputs": [dict(t) for t in v2.get("outputs") or []],
        }

    async def _prepackaged_predict(
        self, name: str, request: Any, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        msg = payload.require_message(request)
        features = payload.features_of(msg)
        if "jsonData" in msg:
            v1: dict[str, Any] = {"instances": [features]}
        elif isinstance(features, np.ndarray):
            v1 = {"instances": features.tolist()}
        else:
            raise SeldonError(
                f"model {name!r} is a prepackaged server: send "
                '"data" (ndarray, tensor or tftensor) or "jsonData"'
            )
        result = await self.dataplane.infer(name, v1, dict(headers))
        if isinstance(result, InferResponse):
            predictions: Any = result.outputs[0].as_numpy() if result.outputs else []
        elif isinstance(result, dict):
            predictions = result.get("predictions", result)
        else:
            predictions = result
        out = payload.encode_data(predictions, msg, None)
        out["meta"] = payload.response_meta(msg)
        return out
