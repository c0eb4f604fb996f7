"""KServe V1 REST codec: ``{"instances"|"inputs": [...]}`` -> dict -> ``{"predictions": [...]}``."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.protocols.json_body import DEFAULT_MAX_DEPTH, loads
from zeroserve.servers.protocols.numeric_rows import parse_numeric_instances
from zeroserve.servers.types import InferResponse

__all__ = ["decode_large_request", "decode_request", "encode_response"]

_DUMPS_OPTS = orjson.OPT_SERIALIZE_NUMPY


def decode_request(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Parse a V1 ``:predict`` / ``:explain`` body.

    Args:
        body: the raw request body.
        max_depth: the deepest JSON nesting accepted.

    Returns:
        The JSON object, handed to the model as is.

    Raises:
        InvalidInput: not JSON, nested too deep, not an object, ``instances`` not a list or
            ``inputs`` neither a list nor an object (TFServing's columnar form).
    """
    payload = loads(body, "Unrecognized request format", max_depth)
    if not isinstance(payload, dict):
        raise InvalidInput(
            f"Unrecognized request format: expected a JSON object, got {type(payload).__name__}"
        )
    instances = payload.get("instances")
    if instances is not None:
        if not isinstance(instances, list):
            raise InvalidInput(f'Expected "instances" to be a list, got {type(instances).__name__}')
    else:
        inputs = payload.get("inputs")  # a list, or TFServing's columnar {name: values} object
        if inputs is not None and not isinstance(inputs, list | dict):
            raise InvalidInput(f'Expected "inputs" to be a list, got {type(inputs).__name__}')
    return payload


def decode_large_request(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Parse a large V1 body for a model that takes ``instances`` as an array.

    Equal-length rows of numbers (``{"instances": [[...], ...]}``) become one ``[N, F]`` numpy array
    without building Python lists (a fraction of the memory); any other body is parsed as
    :func:`decode_request` does.

    Args:
        body: the raw request body.
        max_depth: the deepest JSON nesting accepted.

    Returns:
        The payload, ``instances`` a numpy array when the fast path applied.
    """
    matrix = parse_numeric_instances(body)
    if matrix is not None:
        return {"instances": matrix}
    return decode_request(body, max_depth)


def encode_response(result: Any) -> bytes:
    """Serialize a model's V1 answer; an array or list is wrapped as ``{"predictions": ...}``."""
    if isinstance(result, InferResponse):
        result = {
            "predictions": [o.data for o in result.outputs]
            if len(result.outputs) != 1
            else result.outputs[0].as_numpy()
        }
    elif not isinstance(result, dict):
        result = {"predictions": result}
    try:
        return orjson.dumps(result, option=_DUMPS_OPTS)
    except TypeError:
        return orjson.dumps(result, option=_DUMPS_OPTS, default=_fallback)


def _fallback(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
