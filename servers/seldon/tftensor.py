"""``data.tftensor``: TensorFlow's ``TensorProto`` in its JSON form, to and from numpy.

The JSON form is protobuf's (``json_format``) rendering of ``tensorflow.TensorProto``:
``{"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}]}, "floatVal": [1, 2]}``, or the raw
little-endian bytes base64-encoded in ``tensorContent``. TensorFlow itself is never imported.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from zeroserve.servers.seldon.errors import SeldonError

__all__ = ["from_tftensor", "to_tftensor"]

# dtype name -> (numpy dtype, the *Val field holding the values)
_DTYPES: dict[str, tuple[str, str]] = {
    "DT_FLOAT": ("float32", "floatVal"),
    "DT_DOUBLE": ("float64", "doubleVal"),
    "DT_INT32": ("int32", "intVal"),
    "DT_UINT8": ("uint8", "intVal"),
    "DT_INT16": ("int16", "intVal"),
    "DT_INT8": ("int8", "intVal"),
    "DT_UINT16": ("uint16", "intVal"),
    "DT_INT64": ("int64", "int64Val"),
    "DT_UINT32": ("uint32", "uint32Val"),
    "DT_UINT64": ("uint64", "uint64Val"),
    "DT_BOOL": ("bool", "boolVal"),
    "DT_HALF": ("float16", "halfVal"),
    "DT_STRING": ("object", "stringVal"),
}
_BY_NUMPY = {np.dtype(v[0]).str: k for k, v in _DTYPES.items() if k != "DT_STRING"}
_WHERE = '"data.tftensor"'


def from_tftensor(doc: Any) -> np.ndarray:
    """Decode a JSON ``TensorProto`` into an array.

    Raises:
        SeldonError: 400 naming the field that is wrong.
    """
    if not isinstance(doc, dict):
        raise SeldonError(f"{_WHERE} must be an object (a TensorProto)")
    dtype_name = doc.get("dtype", "DT_FLOAT")
    if dtype_name not in _DTYPES:
        raise SeldonError(f"{_WHERE}.dtype {dtype_name!r} is not supported; one of {', '.join(_DTYPES)}")
    np_type, field = _DTYPES[dtype_name]
    shape = _shape(doc.get("tensorShape", {}))
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    content = doc.get("tensorContent")
    if content and dtype_name != "DT_STRING":
        try:
            raw = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise SeldonError(f"{_WHERE}.tensorContent is not base64") from None
        itemsize = np.dtype(np_type).itemsize
        if len(raw) != count * itemsize:
            raise SeldonError(
                f"{_WHERE}.tensorContent holds {len(raw)} bytes, shape {shape} needs {count * itemsize}"
            )
        return np.frombuffer(raw, dtype=np.dtype(np_type).newbyteorder("<")).astype(np_type).reshape(shape)
    values = doc.get(field, [])
    if not isinstance(values, list):
        raise SeldonError(f"{_WHERE}.{field} must be a list")
    if dtype_name == "DT_STRING":
        try:
            items: list[Any] = [base64.b64decode(v, validate=True) for v in values]
        except (binascii.Error, ValueError, TypeError):
            raise SeldonError(f"{_WHERE}.stringVal must hold base64 strings") from None
        arr = np.empty(len(items), dtype=object)
        arr[:] = items
    else:
        try:
            arr = np.asarray(values, dtype=np.float64 if dtype_name == "DT_HALF" else np_type)
        except (TypeError, ValueError, OverflowError):
            raise SeldonError(f"{_WHERE}.{field} must hold {np_type} values") from None
        if dtype_name == "DT_HALF":  # half values travel as their 16-bit patterns
            arr = arr.astype(np.uint16).view(np.float16)
    if arr.size == 1 and count > 1:  # TensorFlow's one-value fill
        arr = np.full(count, arr[0], dtype=arr.dtype)
    if arr.size != count:
        raise SeldonError(f"{_WHERE}: shape {shape} needs {count} values, got {arr.size}")
    return arr.reshape(shape)


def _shape(doc: Any) -> list[int]:
    if not isinstance(doc, dict):
        raise SeldonError(f"{_WHERE}.tensorShape must be an object")
    dims = doc.get("dim", [])
    if not isinstance(dims, list):
        raise SeldonError(f"{_WHERE}.tensorShape.dim must be a list")
    shape: list[int] = []
    for i, dim in enumerate(dims):
        size: Any = dim.get("size", 0) if isinstance(dim, dict) else None
        try:
            value = int(size)  # int64 travels as a string in protobuf JSON
        except (TypeError, ValueError):
            value = -1
        if value < 0 or isinstance(size, bool):
            raise SeldonError(f"{_WHERE}.tensorShape.dim[{i}].size must be a non-negative integer")
        shape.append(value)
    return shape


def to_tftensor(arr: np.ndarray) -> dict[str, Any]:
    """Encode a numeric array as a JSON ``TensorProto`` (values in the dtype's ``*Val`` field)."""
    name = _BY_NUMPY.get(arr.dtype.str)
    if name is None:
        arr = arr.astype(np.float64)
        name = "DT_DOUBLE"
    field = _DTYPES[name][1]
    if name == "DT_HALF":
        values: list[Any] = arr.view(np.uint16).ravel().tolist()
    elif name in ("DT_INT64", "DT_UINT64"):
        values = [str(v) for v in arr.ravel().tolist()]  # protobuf JSON's 64-bit integers
    else:
        values = arr.ravel().tolist()
    return {
        "dtype": name,
        "tensorShape": {"dim": [{"size": str(d)} for d in arr.shape]},
        field: values,
    }
