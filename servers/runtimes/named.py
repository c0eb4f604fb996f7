"""Named tensors in and out, for runtimes whose model has named inputs and outputs (ONNX, TensorFlow).

Inputs, by payload:

- V2: each input by its name; a request with one input for a model with one input is taken whatever
  its name (as for the tabular runtimes' ``input-0``).
- V1 ``instances`` (row format): for a one-input model, the rows of that input; for several inputs,
  one object per row ``{"a": ..., "b": ...}`` (TFServing's row format).
- V1 ``inputs`` (columnar): a list (the one input) or an object ``{"a": [...], "b": [...]}``.
- V1 binary values as TFServing writes them, ``{"b64": "..."}``, are bytes.

Outputs: V2 answers one output per model output, named as the model names it; V1 answers
``predictions`` (one value per row for one output, one object per row for several) or, for a
columnar request where the runtime follows TFServing, ``outputs`` (the value for one output, an object
for several); bytes of an output named ``*_bytes`` are ``{"b64": ...}``, other bytes UTF-8 text.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zeroserve.servers import tensors
from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.types import InferOutput, InferRequest, InferResponse

__all__ = ["TensorSpec", "named_inputs", "named_response"]


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output: its name, V2 datatype and shape (``-1`` for a free dimension)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def metadata(self) -> dict[str, Any]:
        """The V2 tensor metadata ``{"name", "datatype", "shape"}``."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def named_inputs(model: str, payload: Any, specs: Sequence[TensorSpec]) -> dict[str, np.ndarray]:
    """The model's inputs from a request, as arrays of each input's datatype.

    Args:
        model: the model's name, for error messages.
        payload: a V1 dict or a V2 :class:`InferRequest`.
        specs: the model's inputs.

    Returns:
        Input name -> array.

    Raises:
        InvalidInput: an input is missing or unknown, or its values do not fit its datatype; the
            message names the input and lists the model's inputs.
    """
    names = [s.name for s in specs]
    if isinstance(payload, InferRequest):
        if len(specs) == 1 and len(payload.inputs) == 1:
            raw = {specs[0].name: payload.inputs[0].as_numpy()}
        else:
            raw = {t.name: t.as_numpy() for t in payload.inputs}
    elif isinstance(payload, dict):
        raw = {k: _b64_decoded(v) for k, v in _v1_inputs(model, payload, specs).items()}
    else:
        raise InvalidInput(f"model {model}: unsupported payload type {type(payload).__name__}")
    unknown = [n for n in raw if n not in names]
    missing = [n for n in names if n not in raw]
    if unknown or missing:
        raise InvalidInput(
            f"model {model}: the model's inputs are {names}; "
            + "; ".join(
                part
                for part in (
                    f"missing {missing}" if missing else "",
                    f"unknown {unknown}" if unknown else "",
                )
                if part
            )
        )
    return {s.name: _cast(model, s, raw[s.name]) for s in specs}


def _v1_inputs(model: str, payload: dict[str, Any], specs: Sequence[TensorSpec]) -> dict[str, Any]:
    if "instances" in payload:
        rows = payload["instances"]
        if isinstance(rows, np.ndarray):
            rows = rows.tolist() if len(specs) != 1 else rows
        if len(specs) == 1 and not (len(rows) and isinstance(rows[0], dict) and not _is_b64(rows[0])):
            return {specs[0].name: rows}
        if not rows or not all(isinstance(r, dict) for r in rows):
            names = [s.name for s in specs]
            raise InvalidInput(
                f"model {model} has inputs {names}: send instances as objects "
                '[{"' + '": ..., "'.join(names) + '": ...}] or columnar "inputs": {name: values}'
            )
        out: dict[str, list[Any]] = {}
        for i, row in enumerate(rows):
            if set(row) != set(rows[0]):
                raise InvalidInput(
                    f"model {model}: instance {i} has keys {sorted(row)}, not {sorted(rows[0])}"
                )
            for key, value in row.items():
                out.setdefault(str(key), []).append(value)
        return out
    if "inputs" in payload:
        columns = payload["inputs"]
        if isinstance(columns, dict):
            return {str(k): v for k, v in columns.items()}
        if len(specs) == 1:
            return {specs[0].name: columns}
        names = [s.name for s in specs]
        raise InvalidInput(f'model {model} has inputs {names}: send "inputs" as an object {{name: values}}')
    raise InvalidInput('Expected "instances" or "inputs" in the request body')


def _cast(model: str, spec: TensorSpec, value: Any) -> np.ndarray:
    where = f"model {model} input '{spec.name}'"
    if spec.datatype == "BYTES":
        arr = np.asarray(value, dtype=object)
        return arr
    dtype = tensors.DATATYPES.get(spec.datatype)
    try:
        arr = np.asarray(value)
    except ValueError:
        raise InvalidInput(f"{where}: values are not a rectangular array") from None
    if arr.dtype.kind not in "biuf":
        raise InvalidInput(f"{where}: expected {spec.datatype} numbers, got {arr.dtype.kind!r} data")
    if dtype is not None and arr.dtype != dtype:
        if arr.dtype.kind == "f" and dtype.kind in "iub":
            raise InvalidInput(f"{where}: expected {spec.datatype} integers, got fractions")
        arr = arr.astype(dtype)
    if spec.shape and len(spec.shape) != arr.ndim:
        if len(spec.shape) == arr.ndim + 1 and _fits(spec.shape[1:], arr.shape):  # one instance
            arr = arr[np.newaxis, ...]
        else:
            raise InvalidInput(f"{where}: expected shape {list(spec.shape)}, got {list(arr.shape)}")
    if spec.shape and not _fits(spec.shape, arr.shape):
        raise InvalidInput(f"{where}: expected shape {list(spec.shape)}, got {list(arr.shape)}")
    return arr


def _fits(want: Sequence[int], got: Sequence[int]) -> bool:
    return len(want) == len(got) and all(w in (-1, g) for w, g in zip(want, got, strict=True))


def named_response(
    payload: Any,
    outputs: Mapping[str, np.ndarray],
    model: str,
    *,
    columnar_outputs: bool = False,
) -> Any:
    """The answer in the payload's protocol.

    Args:
        payload: the request (V1 dict or V2 :class:`InferRequest`).
        outputs: output name -> array, in the model's order.
        model: the model's name.
        columnar_outputs: answer a V1 ``inputs`` request with ``outputs`` (TFServing) rather than
            ``predictions`` (KServe).

    Returns:
        A V1 dict or an :class:`InferResponse`.
    """
    if isinstance(payload, InferRequest):
        result = []
        for name, arr in outputs.items():
            arr = np.asarray(arr)
            if arr.dtype.kind in "US":
                arr = arr.astype(object)
            tensor = InferOutput(name, list(arr.shape), tensors.datatype_of(arr))
            tensor.set_data_from_numpy(arr)
            result.append(tensor)
        rid = payload.id or str(uuid.uuid4())
        return InferResponse(rid, model, result, requested_outputs=payload.request_outputs or None)
    values = {k: _plain(v, b64=k.endswith("_bytes")) for k, v in outputs.items()}
    if columnar_outputs and isinstance(payload, dict) and "instances" not in payload:
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    rows = min((len(v) for v in values.values() if isinstance(v, list)), default=0)
    return {"predictions": [{k: v[i] for k, v in values.items()} for i in range(rows)]}


def _plain(arr: np.ndarray, *, b64: bool = False) -> Any:
    """JSON values of an output; bytes of an output named ``*_bytes`` as TFServing's ``{"b64": ...}``."""
    arr = np.asarray(arr)
    if arr.dtype.kind in "SO":
        flat = [_text(x, b64) for x in arr.ravel()]
        return np.array(flat, dtype=object).reshape(arr.shape).tolist()
    return arr.tolist()


def _text(value: Any, b64: bool) -> Any:
    if not isinstance(value, bytes):
        return value
    if b64:
        return {"b64": base64.b64encode(value).decode("ascii")}
    return value.decode(errors="replace")


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _b64_decoded(value: Any) -> Any:
    """TFServing's binary values ``{"b64": "..."}`` (at any depth) as bytes."""
    if _is_b64(value):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError:
            raise InvalidInput('a {"b64": ...} value is not valid base64') from None
    if isinstance(value, list):
        return [_b64_decoded(v) for v in value]
    return value
