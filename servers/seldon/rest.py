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

import orjson

from zeroserve.servers.dataplane import DataPlane
from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.protocols.json_body import DEFAULT_MAX_DEPTH, loads
from zeroserve.servers.seldon.errors import SeldonError, from_exception
from zeroserve.servers.seldon.openapi import openapi_document
from zeroserve.servers.seldon.service import SeldonService

__all__ = ["SeldonRest", "parse_request"]

_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"


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
        self.service = SeldonService(dataplane)
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
        if op == "metadata":
            return 200, orjson.dumps(await self.service.metadata(headers)), _JSON
        request = {} if op == "health_status" else parse_request(body, headers, self.max_json_depth)
        result = await self.service.run(op, request, headers)
        status = 200
        if op == "health_status" and isinstance(result, dict):
            status = (result.get("status") or {}).get("code", 200)
        return status, _dump(result), _JSON


def _dump(result: Any) -> bytes:
    if isinstance(result, dict):
        return orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY)
    if hasattr(result, "DESCRIPTOR"):  # a raw hook answered with a protobuf message
        from google.protobuf import json_format

        return orjson.dumps(json_format.MessageToDict(result))
    raise SeldonError(
        "the component's raw method must return a SeldonMessage (a dict)", 500, "MICROSERVICE_INTERNAL_ERROR"
    )
