"""Helpers for runtimes: one input array from any payload, and the answer in the payload's protocol.

KServe's runtimes use ``get_predict_input`` / ``get_predict_response``; these do the same over the
internal types so a runtime is written once for V1 and V2.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from zeroserve.servers import tensors
from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.types import InferOutput, InferRequest, InferResponse

__all__ = ["get_predict_input", "get_predict_response", "result_to_infer_response"]


def get_predict_input(payload: Any) -> Any:
    """The model input of a payload.

    Args:
        payload: a V1 dict (``instances`` or ``inputs``) or a V2 :class:`InferRequest`.

    Returns:
        For V2 with one input, that input as a numpy array; with several, a list of arrays. For V1,
        the ``instances`` (or ``inputs``) list as sent (a list of dicts stays a list of dicts), or
        the array a large numeric body was parsed into for a model with ``accepts_array_instances``.
    """
    if isinstance(payload, InferRequest):
        if not payload.inputs:
            raise InvalidInput("request has no inputs")
        if len(payload.inputs) == 1:
            return payload.inputs[0].as_numpy()
        return [t.as_numpy() for t in payload.inputs]
    if isinstance(payload, dict):
        for key in ("instances", "inputs"):
            if key in payload:
                value = payload[key]
                if not isinstance(value, (list, np.ndarray)):
                    raise InvalidInput(f'Expected "{key}" to be a list, got {type(value).__name__}')
                return value
        raise InvalidInput('Expected "instances" or "inputs" in the request body')
    raise InvalidInput(f"unsupported payload type {type(payload).__name__}")


def result_to_infer_response(result: Any, model_name: str, request: InferRequest | None) -> InferResponse:
    """Wrap an array (or list) result as a V2 response with one output ``output-0``."""
    arr = result if isinstance(result, np.ndarray) else np.asarray(result)
    if arr.dtype.kind in "US":
        arr = arr.astype(object)
    output = InferOutput("output-0", list(arr.shape), tensors.datatype_of(arr))
    output.set_data_from_numpy(arr)
    rid = request.id if request is not None and request.id else str(uuid.uuid4())
    return InferResponse(rid, model_name, [output])


def get_predict_response(payload: Any, result: Any, model_name: str) -> Any:
    """The answer for ``result`` in the protocol of ``payload``.

    Args:
        payload: the request payload (V1 dict or V2 :class:`InferRequest`).
        result: what the framework returned (array or list).
        model_name: the model's name.

    Returns:
        ``{"predictions": [...]}`` for V1, an :class:`InferResponse` with ``output-0`` for V2.
    """
    if isinstance(payload, InferRequest):
        return result_to_infer_response(result, model_name, payload)
    if isinstance(result, np.ndarray):
        result = result.tolist()
    return {"predictions": result}
