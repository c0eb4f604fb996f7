"""KServe V1 REST codec: ``{"instances"|"inputs": [...]}`` -> dict -> ``{"predictions": [...]}``."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.types import InferResponse

__all__ = ["decode_request", "encode_response"]

_DUMPS_OPTS = orjson.OPT_SERIALIZE_NUMPY


def decode_request(body: bytes) -> dict[str, Any]:
    """Parse a V1 ``:predict`` / ``:explain`` body.

    Args:
        body: the raw request body.

    Returns:
        The JSON object, handed to the model as is.

    Raises:
        InvalidInput: not JSON, not an object, or ``instances`` / ``inputs`` not a list.
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"Unrecognized request format: invalid JSON body: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidInput(
            f"Unrecognized request format: expected a JSON object, got {type(payload).__name__}"
        )
    instances = payload.get("instances")
    if instances is not None:
        if not isinstance(instances, list):
            raise InvalidInput(f'Expected "instances" to be a list, got {type(instances).__name__}')
    else:
        inputs = payload.get("inputs")
        if inputs is not None and not isinstance(inputs, list):
            raise InvalidInput(f'Expected "inputs" to be a list, got {type(inputs).__name__}')
    return payload


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
