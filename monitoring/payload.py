"""Instances out of an inference request body: KServe V1 ``instances`` or Open Inference V2 ``inputs``."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PayloadError", "instances_from_payload"]


class PayloadError(ValueError):
    """The body holds no numeric instances the detector can read; the message says why."""


def instances_from_payload(doc: Any) -> np.ndarray:
    """A 2-D float array ``(instances, features)`` from a V1 or V2 request.

    V1: ``{"instances": [[...], ...]}`` (rows may be dicts; their values are taken in key order).
    V2: ``{"inputs": [{"shape": [n, d], "data": [...]}, ...]}``; several inputs become columns.

    Args:
        doc: the parsed JSON body.

    Returns:
        The instances.

    Raises:
        PayloadError: on any other shape, ragged rows or non-numeric values.
    """
    if not isinstance(doc, dict):
        raise PayloadError("request body must be a JSON object with 'instances' (V1) or 'inputs' (V2)")
    try:
        if "instances" in doc:
            rows = doc["instances"]
            if not isinstance(rows, list) or not rows:
                raise PayloadError("'instances' must be a non-empty list")
            if all(isinstance(row, dict) for row in rows):
                rows = [list(row.values()) for row in rows]
            array = np.asarray(rows, dtype=np.float64)
            if array.ndim == 1:
                array = array.reshape(-1, 1)
        elif "inputs" in doc:
            inputs = doc["inputs"]
            if not isinstance(inputs, list) or not inputs:
                raise PayloadError("'inputs' must be a non-empty list of tensors")
            columns = [_tensor(t) for t in inputs]
            if len({c.shape[0] for c in columns}) != 1:
                raise PayloadError("V2 inputs disagree on the number of instances")
            array = np.concatenate(columns, axis=1)
        else:
            raise PayloadError("request body has neither 'instances' (V1) nor 'inputs' (V2)")
    except (TypeError, ValueError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"instances are not numeric rows of equal length: {exc}") from None
    if array.ndim != 2:
        array = array.reshape(array.shape[0], -1)
    if not np.all(np.isfinite(array)):
        raise PayloadError("instances contain NaN or infinite values")
    return array


def _tensor(tensor: Any) -> np.ndarray:
    if not isinstance(tensor, dict) or "data" not in tensor:
        raise PayloadError("each V2 input needs 'data' (and 'shape')")
    data = np.asarray(tensor["data"], dtype=np.float64)
    shape = tensor.get("shape")
    if shape:
        data = data.reshape([int(s) for s in shape])
    if data.ndim == 1:
        data = data.reshape(-1, 1)
    return data.reshape(data.shape[0], -1)
