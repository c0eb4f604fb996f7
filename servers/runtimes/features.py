"""Turning a V1 or V2 payload into the 2-D feature matrix tabular models (sklearn, XGBoost) take.

V1 ``instances`` may be rows of numbers or rows of ``{feature: value}`` dicts (ordered by the
model's feature names); V2 requests carry one ``[N, F]`` tensor.
Every mismatch is an :class:`~zeroserve.servers.errors.InvalidInput` that says what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.predict_io import get_predict_input
from zeroserve.servers.types import InferRequest

__all__ = ["feature_matrix"]


def _from_dict_rows(model: str, rows: list[Any], names: Sequence[str] | None) -> np.ndarray:
    if not names:
        raise InvalidInput(
            f"model {model}: instances are {{feature: value}} objects but the model has no feature "
            "names; send rows of numbers in training order"
        )
    matrix = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidInput(f"model {model}: instance {i} is a {type(row).__name__}, expected an object")
        missing = [n for n in names if n not in row]
        if missing:
            raise InvalidInput(f"model {model}: instance {i} lacks feature(s) {missing}")
        matrix.append([row[n] for n in names])
    return np.asarray(matrix)


def _check_scalars(model: str, matrix: np.ndarray) -> None:
    """Refuse an object matrix holding anything but numbers and strings (a dict, a list, null)."""
    for index, value in np.ndenumerate(matrix):
        if isinstance(value, int | float | str | bytes):  # bool is an int
            continue
        got = "null" if value is None else type(value).__name__
        got = {"dict": "an object", "list": "an array"}.get(got, got)
        path = "".join(f"[{i}]" for i in index)
        raise InvalidInput(f"model {model}: instances{path} must be a number or a string, got {got}")


def feature_matrix(
    model: str,
    payload: Any,
    *,
    n_features: int | None = None,
    feature_names: Sequence[str] | None = None,
    dtype: Any = None,
) -> np.ndarray:
    """The ``[N, F]`` matrix of a request.

    Args:
        model: the model's name, for error messages.
        payload: a V1 dict or a V2 :class:`InferRequest`.
        n_features: the number of features the model expects, when known (checked).
        feature_names: the model's feature names, when known (orders dict rows).
        dtype: convert to this numpy dtype (e.g. ``np.float32``); ``None`` keeps the data's own.

    Returns:
        A 2-D numpy array.

    Raises:
        InvalidInput: the payload is not a matrix of the expected width, or holds non-numbers.
    """
    if isinstance(payload, InferRequest) and len(payload.inputs) > 1:
        names = [t.name for t in payload.inputs]
        raise InvalidInput(f"model {model}: expects one input tensor of shape [N, F], got {names}")
    data = get_predict_input(payload)
    if isinstance(data, np.ndarray):
        matrix = data
    elif data and all(isinstance(row, dict) for row in data):
        matrix = _from_dict_rows(model, data, feature_names)
    else:
        try:
            matrix = np.asarray(data)
        except ValueError:
            raise InvalidInput(f"model {model}: instances are not rows of equal length") from None
    if matrix.ndim == 1 and n_features is not None and matrix.shape[0] == n_features:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2:
        width = n_features if n_features is not None else "F"
        raise InvalidInput(
            f"model {model}: expected a 2-D input of shape [N, {width}], got shape {list(matrix.shape)}"
        )
    if n_features is not None and matrix.shape[1] != n_features:
        raise InvalidInput(
            f"model {model}: expected {n_features} features per instance (shape [N, {n_features}]), "
            f"got shape {list(matrix.shape)}"
        )
    if matrix.dtype.kind == "O":
        _check_scalars(model, matrix)
    if matrix.dtype.kind not in "biuf" and matrix.size:
        if matrix.dtype.kind in "USO" and dtype is None:
            return matrix
        raise InvalidInput(f"model {model}: instances must hold numbers, got {matrix.dtype.kind!r} data")
    if dtype is not None and matrix.dtype != dtype:
        matrix = matrix.astype(dtype)
    return matrix
