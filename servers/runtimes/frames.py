"""pandas inputs for tabular models fitted on a DataFrame (sklearn pipelines, XGBoost, LightGBM).

A model that knows its column names (``feature_names_in_`` of a scikit-learn estimator fitted on a
DataFrame, a booster's feature names) gets a :class:`pandas.DataFrame` with those columns, in that
order, from any of these payloads:

- V1 records: ``{"instances": [{"age": 22, "sex": "male"}, ...]}`` (one row per object);
- V1 dict-of-lists, as KServe's mixed-type sample sends it: ``{"instances": [{"age": [22, 38],
  "sex": ["male", "female"]}]}`` (each object a block of rows; a column may also be pandas'
  ``{"0": 22, "1": 38}``), or columnar ``{"inputs": {"age": [...], "sex": [...]}}``;
- V1 rows of values in column order: ``{"instances": [[22, "male"], ...]}``;
- V2 with one input per column (the input's name is the column, shape ``[N]`` or ``[N, 1]``; BYTES
  become ``str``); MLServer's ``pd`` content type is this form;
- V2 with a single ``[N, F]`` input in column order.

Values keep the types they arrive with (JSON numbers stay numeric, strings stay ``str``), then
columns holding only numbers become numeric, so the frame has the dtypes the model saw; a runtime may
pass ``dtypes`` to force some (LightGBM's categorical columns). pandas is imported on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.types import InferInput, InferRequest

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PANDAS_CONTENT_TYPE", "column_frame", "is_pandas_request", "wants_frame"]

PANDAS_CONTENT_TYPE = "pd"
"""MLServer's request-level ``parameters.content_type`` for a DataFrame (one input per column)."""


def is_pandas_request(payload: Any) -> bool:
    """Whether a V2 request says it is a DataFrame (MLServer's ``"content_type": "pd"``)."""
    return isinstance(payload, InferRequest) and payload.parameters.get("content_type") == PANDAS_CONTENT_TYPE


def wants_frame(payload: Any) -> bool:
    """Whether ``payload`` carries named columns (records, dict-of-lists, several V2 inputs, ``pd``).

    A model without column names of its own may still answer such a payload through a DataFrame.
    """
    if isinstance(payload, InferRequest):
        return len(payload.inputs) > 1 or is_pandas_request(payload)
    if isinstance(payload, dict):
        data = payload.get("instances", payload.get("inputs"))
        if isinstance(data, dict):
            return True
        return isinstance(data, list) and bool(data) and isinstance(data[0], dict)
    return False


def column_frame(
    model: str,
    payload: Any,
    columns: Sequence[str] | None,
    dtypes: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The request as a DataFrame with the model's ``columns`` in order.

    Args:
        model: the model's name, for error messages.
        payload: a V1 dict or a V2 :class:`InferRequest`.
        columns: the columns the model was fitted on; ``None`` takes the payload's own names (in the
            order they come) and refuses unnamed rows.
        dtypes: column -> dtype to cast to after the frame is built (e.g. ``"category"``).

    Returns:
        The frame, one row per instance.

    Raises:
        InvalidInput: a column is missing, the columns differ in length, a row has the wrong width,
            or a value is not a scalar; the message names the column or instance.
    """
    import pandas as pd

    data = _columns_of(model, payload, columns)
    names = list(columns) if columns is not None else list(data)
    missing = [c for c in names if c not in data]
    if missing:
        raise InvalidInput(
            f"model {model}: missing column(s) {missing}; the model takes {names}, got {list(data)}"
        )
    lengths = {c: len(data[c]) for c in names}
    if len(set(lengths.values())) > 1:
        raise InvalidInput(f"model {model}: columns differ in length: {lengths}")
    frame = pd.DataFrame({c: pd.Series(_scalars(model, c, data[c]), dtype=object) for c in names})
    frame = frame.infer_objects()
    for column, dtype in (dtypes or {}).items():
        if column in frame.columns and frame[column].dtype != dtype:
            try:
                frame[column] = frame[column].astype(dtype)
            except (TypeError, ValueError) as exc:
                raise InvalidInput(f"model {model}: column {column!r} must be {dtype}: {exc}") from None
    return frame


def _columns_of(model: str, payload: Any, columns: Sequence[str] | None) -> dict[str, list[Any]]:
    """Column name -> values from any accepted payload form."""
    if isinstance(payload, InferRequest):
        return _v2_columns(model, payload, columns)
    if not isinstance(payload, dict):
        raise InvalidInput(f"model {model}: unsupported payload type {type(payload).__name__}")
    key = "instances" if "instances" in payload else "inputs"
    data = payload.get(key)
    if isinstance(data, dict):
        return {str(k): _as_list(model, str(k), v) for k, v in data.items()}
    if not isinstance(data, (list, np.ndarray)):
        raise InvalidInput('Expected "instances" or "inputs" in the request body')
    if isinstance(data, np.ndarray):
        data = data.tolist()
    if data and all(isinstance(row, dict) for row in data):
        return _from_objects(model, data)
    if any(isinstance(row, dict) for row in data):
        raise InvalidInput(f"model {model}: {key} mixes objects and rows; send one kind")
    return _from_rows(model, key, data, columns)


def _from_objects(model: str, objects: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Records (scalars: one row each) or dict-of-lists (each object a block of rows).

    A column given as ``{index: value}`` (pandas' ``to_dict()``, as KServe's LightGBM sample sends)
    is the list of its values in order.
    """
    out: dict[str, list[Any]] = {}
    seen = 0
    for i, obj in enumerate(objects):
        block = {str(k): list(v.values()) if isinstance(v, dict) else v for k, v in obj.items()}
        is_block = any(isinstance(v, list) for v in block.values())
        if is_block:
            sizes = {k: len(v) if isinstance(v, list) else None for k, v in block.items()}
            if len({n for n in sizes.values()}) != 1:
                raise InvalidInput(
                    f"model {model}: instance {i} mixes lists of different lengths or lists and "
                    f"scalars: {sizes}"
                )
            rows = next(iter(sizes.values())) or 0
        else:
            rows = 1
        for k, v in block.items():
            if k not in out and seen:
                raise InvalidInput(f"model {model}: column {k!r} first appears in instance {i}")
            out.setdefault(k, []).extend(v if is_block else [v])
        seen += rows
        short = [k for k, col in out.items() if len(col) != seen]
        if short:
            raise InvalidInput(f"model {model}: instance {i} lacks column(s) {short}")
    return out


def _from_rows(model: str, key: str, rows: list[Any], columns: Sequence[str] | None) -> dict[str, list[Any]]:
    if columns is None:
        raise InvalidInput(
            f"model {model}: {key} are unnamed rows but the model has no column names; send "
            '{"instances": [{"column": value, ...}]}'
        )
    width = len(columns)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            got = f"{len(row)} values" if isinstance(row, list) else type(row).__name__
            raise InvalidInput(
                f"model {model}: {key}[{i}] must be a row of {width} values {list(columns)}, got {got}"
            )
    return {c: [row[j] for row in rows] for j, c in enumerate(columns)}


def _v2_columns(model: str, request: InferRequest, columns: Sequence[str] | None) -> dict[str, list[Any]]:
    if not request.inputs:
        raise InvalidInput(f"model {model}: the request has no inputs")
    if len(request.inputs) == 1 and not is_pandas_request(request) and columns is not None:
        tensor = request.inputs[0]
        if tensor.name not in columns:  # one [N, F] tensor in column order
            arr = _tensor_values(tensor)
            if arr.ndim == 1 and arr.shape[0] == len(columns):
                arr = arr.reshape(1, -1)
            if arr.ndim != 2 or arr.shape[1] != len(columns):
                raise InvalidInput(
                    f"model {model}: input '{tensor.name}' must have shape [N, {len(columns)}] "
                    f"(columns {list(columns)}) or be sent as one input per column, got {list(arr.shape)}"
                )
            return {c: arr[:, j].tolist() for j, c in enumerate(columns)}
    out: dict[str, list[Any]] = {}
    for tensor in request.inputs:
        arr = _tensor_values(tensor)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise InvalidInput(
                f"model {model}: input '{tensor.name}' is one column and must have shape [N] or [N, 1], "
                f"got {list(arr.shape)}"
            )
        out[tensor.name] = arr.tolist()
    return out


def _tensor_values(tensor: InferInput) -> np.ndarray:
    arr = tensor.as_numpy()
    if tensor.datatype == "BYTES":
        flat = [x.decode() if isinstance(x, bytes) else x for x in arr.ravel()]
        arr = np.array(flat, dtype=object).reshape(arr.shape)
    return arr


def _as_list(model: str, column: str, value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    got = type(value).__name__
    raise InvalidInput(f"model {model}: column {column!r} must be a list of values, got {got}")


def _scalars(model: str, column: str, values: list[Any]) -> list[Any]:
    for i, v in enumerate(values):
        if v is not None and not isinstance(v, (int, float, str, bool, np.generic)):
            got = {"dict": "an object", "list": "an array"}.get(type(v).__name__, type(v).__name__)
            raise InvalidInput(
                f"model {model}: column {column!r} row {i} must be a number or a string, got {got}"
            )
    return values
