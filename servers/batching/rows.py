"""Joining requests' rows into one payload and splitting the answer back, per protocol.

A V1 payload (``{"instances": [...]}`` or ``{"inputs": [...]}``, also what the Seldon codec
produces) joins by list concatenation; a V2 :class:`~zeroserve.servers.types.InferRequest` joins
each input along its first dimension. :func:`batch_key` decides whether a payload may join a batch
at all and with which others: requests join only when their inputs have the same names, datatypes
and trailing shapes (and the same parameters). Every check that could fail for one caller's input
(tensor decoding, shape, datatype) runs before the request joins, so a malformed request gets its
own error and never fails the others; what only the model can refuse fails the joined call, which
the data plane then reruns request by request.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from zeroserve.servers.errors import InferenceError
from zeroserve.servers.types import InferInput, InferOutput, InferRequest, InferResponse

__all__ = ["batch_key", "join", "split"]

# Per-request parameters that describe the encoding of one caller's data, not the computation.
_ENCODING_PARAMS = frozenset({"binary_data", "binary_data_size", "binary_data_output"})
_V1_KEYS = ("instances", "inputs")
_NUMPY_LEAVES = {"i": "num", "u": "num", "f": "num", "b": "bool", "U": "str"}  # as _leaf names them


def batch_key(payload: Any, max_rows: int | None = None) -> tuple[Hashable, int] | None:
    """Which batch ``payload`` may join, and how many rows it brings.

    Args:
        payload: a decoded V1 dict or V2 :class:`InferRequest` (input specs already checked).
        max_rows: a payload with this many rows or more fills a batch alone: ``None`` is returned
            before its contents are looked at.

    Returns:
        ``(key, rows)``: requests with equal keys can be concatenated; ``None`` when the payload
        cannot be batched (it then runs alone, as without batching).

    Raises:
        InvalidInput: a V2 input's data does not fit its shape or datatype (the caller's own 400).
    """
    limit = max_rows if max_rows is not None else 1 << 62
    if isinstance(payload, InferRequest):
        inputs = payload.inputs
        if inputs and inputs[0].shape and inputs[0].shape[0] >= limit:
            return None
        return _v2_key(payload)
    if isinstance(payload, dict):
        if len(payload) != 1:
            return None
        rows = next(iter(payload.values()))
        sized = isinstance(rows, list) or (isinstance(rows, np.ndarray) and rows.ndim > 0)
        if sized and len(rows) >= limit:
            return None
        return _v1_key(payload)
    return None


def _v1_key(payload: dict[str, Any]) -> tuple[Hashable, int] | None:
    if len(payload) != 1:
        return None
    field = next(iter(payload))
    if field not in _V1_KEYS:
        return None
    rows = payload[field]
    if isinstance(rows, np.ndarray):
        if rows.ndim < 1 or not len(rows):
            return None
        return ("v1", field, "array", rows.dtype.str, rows.shape[1:]), len(rows)
    if not isinstance(rows, list) or not rows:
        return None
    if len(rows) > 8:  # numpy checks many rows at C speed; object rows (dicts, None) fall through
        try:
            arr = np.asarray(rows)
        except (ValueError, TypeError):  # ragged: this request runs alone
            return None
        kind = _NUMPY_LEAVES.get(arr.dtype.kind)
        if kind is not None:
            return ("v1", field, "list", (arr.shape[1:], kind)), len(rows)
    shape = _row_shape(rows[0])
    if shape is None:
        return None
    for row in rows[1:]:
        if _row_shape(row) != shape:  # ragged or mixed rows: this request runs alone
            return None
    return ("v1", field, "list", (shape[0], shape[1])), len(rows)


def _leaf(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "none"
    if isinstance(value, dict):
        if any(isinstance(v, list | dict) for v in value.values()):
            return None  # a dict-of-lists instance is a block of rows (pandas models): it runs alone
        return "dict:" + ",".join(sorted(map(str, value)))
    return None


def _row_shape(row: Any) -> tuple[tuple[int, ...], str] | None:
    """A row's nested list lengths and leaf kind; ``None`` for what is not a regular array row."""
    if not isinstance(row, list):
        leaf = _leaf(row)
        return None if leaf is None else ((), leaf)
    if not row:
        return ((0,), "none")
    if not any(isinstance(x, list) for x in row):
        kinds = {_leaf(x) for x in row}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind is None:
            return None
        return ((len(row),), kind)
    first = _row_shape(row[0])
    if first is None:
        return None
    for item in row[1:]:
        if _row_shape(item) != first:
            return None
    return ((len(row), *first[0]), first[1])


def _params_key(params: dict[str, Any]) -> Hashable:
    if not params:
        return ()
    return tuple(sorted((k, repr(v)) for k, v in params.items() if k not in _ENCODING_PARAMS))


def _v2_key(request: InferRequest) -> tuple[Hashable, int] | None:
    if not request.inputs:
        return None
    rows = -1
    parts: list[Hashable] = []
    for tensor in request.inputs:
        arr = tensor.as_numpy()  # validates: a bad tensor is this caller's InvalidInput
        if arr.ndim < 1:
            return None
        if rows == -1:
            rows = arr.shape[0]
        elif arr.shape[0] != rows:
            return None
        parts.append((tensor.name, tensor.datatype, arr.shape[1:], _params_key(tensor.parameters)))
    if rows < 1:
        return None
    outputs = request.request_outputs
    wanted = tuple(o.name for o in outputs) if outputs else None
    key = (
        "v2",
        tuple(parts),
        _params_key(request.parameters),
        wanted,
        request.from_grpc,
        request.model_version,
    )
    return key, rows


def join(payloads: Sequence[Any]) -> Any:
    """One payload holding every request's rows, in order (all of one :func:`batch_key`).

    Args:
        payloads: the batched requests' payloads (at least one).

    Returns:
        A V1 dict or a V2 :class:`InferRequest` of the same form, rows concatenated.
    """
    first = payloads[0]
    if len(payloads) == 1:
        return first
    if isinstance(first, InferRequest):
        inputs = []
        for i, tensor in enumerate(first.inputs):
            merged = np.concatenate([p.inputs[i].as_numpy() for p in payloads])
            params = {k: v for k, v in tensor.parameters.items() if k != "binary_data_size"}
            inputs.append(InferInput(tensor.name, list(merged.shape), tensor.datatype, merged, params))
        return InferRequest(
            first.model_name,
            inputs,
            request_id=first.id,
            from_grpc=first.from_grpc,
            parameters=dict(first.parameters),
            request_outputs=first.request_outputs,
            model_version=first.model_version,
        )
    field = next(iter(first))
    rows = first[field]
    if isinstance(rows, np.ndarray):
        return {field: np.concatenate([p[field] for p in payloads])}
    joined: list[Any] = []
    for payload in payloads:
        joined.extend(payload[field])
    return {field: joined}


def split(result: Any, payloads: Sequence[Any], counts: Sequence[int]) -> list[Any]:
    """Cut a batch's answer into each request's answer.

    Args:
        result: what ``postprocess`` returned for the joined payload.
        payloads: the batched requests, in order.
        counts: rows of each request.

    Returns:
        One answer per request, of the same form as ``result``: a V2 answer carries the caller's
        own request id.

    Raises:
        InferenceError: the answer cannot be cut by rows (another number of rows than were sent,
            or a form that has no rows).
    """
    total = sum(counts)
    if len(payloads) == 1:
        return [result]
    if isinstance(result, InferResponse):
        return _split_response(result, payloads, counts, total)
    if isinstance(result, dict):
        return _split_dict(result, counts, total)
    if isinstance(result, list | np.ndarray):
        return _cut(result, counts, total, "the answer")
    raise InferenceError(
        f"the model's answer to a batch ({type(result).__name__}) cannot be split by rows; "
        "set batchable = False on the model or disable batching"
    )


def _cut(rows: Any, counts: Sequence[int], total: int, what: str) -> list[Any]:
    if len(rows) != total:
        raise InferenceError(f"{what} to a batch of {total} rows has {len(rows)} rows")
    parts = []
    start = 0
    for count in counts:
        parts.append(rows[start : start + count])
        start += count
    return parts


def _split_dict(result: dict[str, Any], counts: Sequence[int], total: int) -> list[Any]:
    field = "predictions" if "predictions" in result else ("outputs" if "outputs" in result else None)
    if field is None:
        raise InferenceError(
            "the model's answer to a batch has no 'predictions' to split by rows; "
            "set batchable = False on the model or disable batching"
        )
    rows = result[field]
    if not isinstance(rows, list | np.ndarray):
        raise InferenceError(f"'{field}' of the model's answer to a batch is not a list")
    return [{**result, field: part} for part in _cut(rows, counts, total, f"'{field}' of the answer")]


def _split_response(
    result: InferResponse, payloads: Sequence[Any], counts: Sequence[int], total: int
) -> list[Any]:
    columns = [
        _cut(out.as_numpy(), counts, total, f"output '{out.name}' of the answer") for out in result.outputs
    ]
    answers = []
    for i, payload in enumerate(payloads):
        outputs = []
        for out, parts in zip(result.outputs, columns, strict=True):
            part = parts[i]
            outputs.append(InferOutput(out.name, list(part.shape), out.datatype, part, dict(out.parameters)))
        answers.append(
            InferResponse(
                getattr(payload, "id", None),
                result.model_name,
                outputs,
                model_version=result.model_version,
                from_grpc=result.from_grpc,
                parameters=dict(result.parameters),
                use_binary_outputs=result.use_binary_outputs,
                requested_outputs=result.requested_outputs,
            )
        )
    return answers
