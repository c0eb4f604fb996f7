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
from zeroserve.servers.protocols.json_body import DEFAULT_MAX_DEPTH, loads
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


def decode_request(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> tuple[dict[str, Any], str, list[str]]:
    """Decode a Seldon request.

    Args:
        body: the request body.
        max_depth: the deepest JSON nesting accepted.

    Returns:
        ``(v1_payload, kind, names)`` where ``kind`` is ``ndarray``, ``tensor`` or ``jsonData``.

    Raises:
        InvalidInput: the body is not a Seldon message; the error names the field.
    """
    doc = loads(body, "Seldon request", max_depth)
    if not isinstance(doc, dict):
        raise InvalidInput(f"Seldon request must be a JSON object, got {_json_type(doc)}")
    if "jsonData" in doc:
        return {"instances": [doc["jsonData"]]}, "jsonData", []
    data = doc.get("data")
    if not isinstance(data, dict):
        raise InvalidInput('Seldon request needs "data" (with "ndarray" or "tensor") or "jsonData"')
    names = data.get("names") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidInput('Seldon "data.names" must be a list of strings')
    if "ndarray" in data:
        rows = data["ndarray"]
        if not isinstance(rows, list):
            raise InvalidInput(f'Seldon "data.ndarray" must be a list, got {_json_type(rows)}')
        return {"instances": rows}, "ndarray", names
    tensor = data.get("tensor")
    if isinstance(tensor, dict) and isinstance(tensor.get("values"), list):
        return {"instances": _tensor_rows(tensor)}, "tensor", names
    raise InvalidInput('Seldon "data" needs "ndarray" or "tensor" with "values"')


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def _tensor_rows(tensor: dict[str, Any]) -> Any:
    values = tensor["values"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise InvalidInput('Seldon "data.tensor.values" must be a list of numbers')
    shape = tensor.get("shape")
    if shape is None:
        shape = [len(values)]
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= len(values) for d in shape
    ):
        raise InvalidInput(
            f'Seldon "data.tensor.shape" must be a list of non-negative integers no larger than the '
            f"number of values ({len(values)}), got {_short(shape)}"
        )
    expected = int(np.prod(shape, dtype=np.float64)) if shape else 1
    if expected != len(values):
        raise InvalidInput(f'Seldon "data.tensor": shape {shape} needs {expected} values, got {len(values)}')
    return np.asarray(values).reshape(shape).tolist()


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."


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
