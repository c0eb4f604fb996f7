"""Seldon protocol codec (``POST /api/v1.0/predictions``), mapped onto the V1 payload.

``{"data": {"ndarray": [...]}}`` or ``{"data": {"tensor": {"shape", "values"}}}`` reaches the model
as ``{"instances": rows}``; the model's ``predictions`` go back in the same form the request used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.types import InferResponse

__all__ = ["decode_request", "encode_response", "pick_model"]


def pick_model(names: list[str], headers: Mapping[str, str]) -> str:
    """The model a Seldon request is for: the ``seldon-model`` header, else the only model served."""
    wanted = headers.get("seldon-model")
    if wanted:
        return wanted
    if len(names) != 1:
        raise InvalidInput(f"Seldon requests need a 'seldon-model' header when serving {len(names)} models")
    return names[0]


def decode_request(body: bytes) -> tuple[dict[str, Any], str, list[str]]:
    """Decode a Seldon request.

    Returns:
        ``(v1_payload, kind, names)`` where ``kind`` is ``ndarray``, ``tensor`` or ``jsonData``.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"Unrecognized request format: invalid JSON body: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidInput("Seldon request must be a JSON object")
    if "jsonData" in doc:
        return {"instances": [doc["jsonData"]]}, "jsonData", []
    data = doc.get("data")
    if not isinstance(data, dict):
        raise InvalidInput('Seldon request needs "data" (with "ndarray" or "tensor") or "jsonData"')
    names = data.get("names") or []
    if "ndarray" in data:
        rows = data["ndarray"]
        if not isinstance(rows, list):
            raise InvalidInput('Seldon "data.ndarray" must be a list')
        return {"instances": rows}, "ndarray", names
    tensor = data.get("tensor")
    if isinstance(tensor, dict) and isinstance(tensor.get("values"), list):
        shape = tensor.get("shape") or [len(tensor["values"])]
        try:
            rows = np.asarray(tensor["values"]).reshape(shape).tolist()
        except ValueError as exc:
            raise InvalidInput(f'Seldon "data.tensor": values do not fit shape {shape}: {exc}') from None
        return {"instances": rows}, "tensor", names
    raise InvalidInput('Seldon "data" needs "ndarray" or "tensor" with "values"')


def encode_response(result: Any, kind: str, names: list[str]) -> bytes:
    """Encode a model's V1-style answer as a Seldon response of the request's ``kind``."""
    if isinstance(result, InferResponse):
        predictions: Any = result.outputs[0].as_numpy() if result.outputs else []
    elif isinstance(result, dict):
        predictions = result.get("predictions", result)
    else:
        predictions = result
    arr = np.asarray(predictions)
    if kind == "jsonData":
        doc: dict[str, Any] = {
            "jsonData": arr.tolist() if isinstance(predictions, np.ndarray) else predictions
        }
    elif kind == "tensor":
        doc = {"data": {"names": [], "tensor": {"shape": list(arr.shape), "values": arr.ravel().tolist()}}}
    else:
        doc = {"data": {"names": [], "ndarray": arr.tolist()}}
    doc["meta"] = {}
    return orjson.dumps(doc)
