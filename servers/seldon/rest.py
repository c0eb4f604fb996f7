"""Seldon's REST protocol over the data plane: the wrapper's endpoints on every model server.

Paths (``wrapper.oas3.json`` and Seldon's wrapper): ``/predict`` and ``/api/v1.0/predictions``
(also ``/api/v0.1/predictions``), ``/send-feedback`` and ``/api/v1.0/feedback``, ``/route``,
``/aggregate``, ``/transform-input``, ``/transform-output`` (each also under ``/api/v1.0/``),
``/health/ping``, ``/health/status``, ``/metadata`` and ``/api/v1.0/metadata``, ``/seldon.json``.
A request is a JSON body, a form-encoded body with ``json=`` (as Seldon's wrapper accepts), or, on
GET, a ``json=`` query parameter. Errors answer Seldon's shape (:mod:`.errors`).

A :class:`~zeroserve.servers.seldon.model.SeldonModel` answers every operation; any other model
(a prepackaged server: sklearn, xgboost, ...) answers predictions, through its V1 ``instances``,
and accepts feedback (it has nothing to learn from it).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from zeroserve.servers.dataplane import DataPlane
from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.protocols.json_body import DEFAULT_MAX_DEPTH, loads
from zeroserve.servers.seldon import payload
from zeroserve.servers.seldon.errors import SeldonError, from_exception
from zeroserve.servers.seldon.metadata import metadata_or_error
from zeroserve.servers.seldon.model import SeldonCall, SeldonModel
from zeroserve.servers.seldon.openapi import openapi_document
from zeroserve.servers.types import InferResponse

__all__ = ["SeldonRest", "parse_request", "pick_model"]

_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"


def pick_model(names: list[str], headers: Mapping[str, str]) -> str:
    """The model a Seldon request is for: the ``seldon-model`` header, else the only model served."""
    wanted = headers.get("seldon-model")
    if wanted:
        return wanted
    if len(names) != 1:
        raise SeldonError(f"Seldon requests need a 'seldon-model' header when serving {len(names)} models")
    return names[0]


def parse_request(body: bytes, headers: Mapping[str, str], max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """The JSON request of a Seldon call: the body, its form field ``json=``, or a GET query's.

    Args:
        body: the POST body, or the query string of a GET.
        headers: the request headers (``content-type`` decides form decoding).
        max_depth: the deepest JSON nesting accepted.

    Raises:
        SeldonError: 400 when there is no JSON or it does not parse.
    """
    content_type = headers.get("content-type", "")
    is_form = content_type.startswith("application/x-www-form-urlencoded")
    if is_form or (body[:5] in (b"json=", b"body=") and not content_type.startswith("application/json")):
        fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        text = (fields.get("json") or fields.get("body") or [""])[0]
        # curl -d sends JSON as a form without a field: take the body itself then
        data: bytes = text.encode() if text else body
    else:
        data = body
    if not data.strip():
        raise SeldonError('no JSON in the request: send a JSON body or a form/query field "json"')
    try:
        return loads(data, "Seldon request", max_depth)
    except InvalidInput as exc:
        raise SeldonError(str(exc)) from None


class SeldonRest:
    """Answers Seldon REST calls from the data plane.

    Args:
        dataplane: the models served.
        max_json_depth: the deepest JSON nesting of a request accepted.
    """

    def __init__(self, dataplane: DataPlane, max_json_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.dataplane = dataplane
        self.max_json_depth = max_json_depth

    async def handle(self, op: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes, bytes]:
        """Answer one call.

        Args:
            op: the operation (a value of :data:`~zeroserve.servers.seldon.paths.ENDPOINTS`).
            body: the POST body, or the query string of a GET.
            headers: the request headers, lower-case.

        Returns:
            ``(status, body, content_type)``; failures in Seldon's error shape, never a traceback.
        """
        try:
            return await self._handle(op, body, headers)
        except Exception as exc:
            status, doc = from_exception(exc)
            return status, orjson.dumps(doc), _JSON

    async def _handle(self, op: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes, bytes]:
        if op == "health_ping":
            return 200, b"pong", _TEXT
        if op == "openapi":
            return 200, orjson.dumps(openapi_document()), _JSON
        name = pick_model(self.dataplane.model_names(), headers)
        model = self.dataplane.get_model(name)
        if op == "metadata":
            if isinstance(model, SeldonModel):
                return 200, orjson.dumps(metadata_or_error(model.component)), _JSON
            return 200, orjson.dumps(_prepackaged_metadata(await self.dataplane.model_metadata(name))), _JSON
        if op == "health_status":
            if not isinstance(model, SeldonModel):
                ready = await self.dataplane.model_ready(name)
                return (
                    (200 if ready else 503),
                    orjson.dumps({"status": {"status": "SUCCESS" if ready else "FAILURE"}}),
                    _JSON,
                )
            return (
                200,
                _dump(await self.dataplane.infer(name, SeldonCall("health_status", {}), dict(headers))),
                _JSON,
            )
        request = parse_request(body, headers, self.max_json_depth)
        if isinstance(model, SeldonModel):
            result = await self.dataplane.infer(name, SeldonCall(op, request), dict(headers))
            return 200, _dump(result), _JSON
        if op == "predict":
            return 200, orjson.dumps(await self._prepackaged_predict(name, request, headers)), _JSON
        if op == "send_feedback":
            payload.require_message(request.get("request") or {} if isinstance(request, dict) else request)
            return 200, orjson.dumps({"data": {"names": [], "ndarray": []}, "meta": {}}), _JSON
        raise SeldonError(
            f"model {name!r} is not a Seldon component: it answers predictions and feedback only", 404
        )

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


def _dump(result: Any) -> bytes:
    if isinstance(result, dict):
        return orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY)
    if hasattr(result, "DESCRIPTOR"):  # a raw hook answered with a protobuf message
        from google.protobuf import json_format

        return orjson.dumps(json_format.MessageToDict(result))
    raise SeldonError(
        "the component's raw method must return a SeldonMessage (a dict)", 500, "MICROSERVICE_INTERNAL_ERROR"
    )


def _prepackaged_metadata(v2: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": v2.get("name", ""),
        "versions": list(v2.get("versions") or []),
        "platform": v2.get("platform", ""),
        "inputs": [dict(t) for t in v2.get("inputs") or []],
        "outputs": [dict(t) for t in v2.get("outputs") or []],
    }
