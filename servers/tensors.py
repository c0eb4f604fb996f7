"""Open Inference Protocol datatypes and their numpy and raw-bytes encodings.

One table maps every V2 datatype to a numpy dtype; the raw encoding (binary tensor extension and
gRPC ``raw_*_contents``) is little-endian, BOOL one byte per element, BYTES elements each prefixed
with a 4-byte little-endian length.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from math import prod
from typing import Any

import numpy as np

from zeroserve.servers.errors import InvalidInput

__all__ = [
    "DATATYPES",
    "MAX_DIMENSION",
    "datatype_of",
    "decode_bytes_tensor",
    "element_count",
    "encode_bytes_tensor",
    "numpy_dtype",
    "raw_to_numpy",
    "to_raw",
]

_LE = "<"

DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(_LE + "u1"),
    "UINT16": np.dtype(_LE + "u2"),
    "UINT32": np.dtype(_LE + "u4"),
    "UINT64": np.dtype(_LE + "u8"),
    "INT8": np.dtype(_LE + "i1"),
    "INT16": np.dtype(_LE + "i2"),
    "INT32": np.dtype(_LE + "i4"),
    "INT64": np.dtype(_LE + "i8"),
    "FP16": np.dtype(_LE + "f2"),
    "FP32": np.dtype(_LE + "f4"),
    "FP64": np.dtype(_LE + "f8"),
    "BYTES": np.dtype(np.object_),
}
"""V2 datatype name -> numpy dtype (little-endian, the wire byte order)."""

MAX_DIMENSION = 2**63 - 1
"""The largest size of one dimension of a shape (an ``int64``, as in the gRPC messages)."""

# Which numpy kinds (as inferred from JSON data) each datatype accepts.
ACCEPTED_KINDS: dict[str, str] = {
    "BOOL": "b",
    "UINT8": "iub",
    "UINT16": "iub",
    "UINT32": "iub",
    "UINT64": "iub",
    "INT8": "iub",
    "INT16": "iub",
    "INT32": "iub",
    "INT64": "iub",
    "FP16": "iufb",
    "FP32": "iufb",
    "FP64": "iufb",
    "BYTES": "USOb",
}

_KIND_NAMES = {
    "b": "boolean",
    "i": "integer",
    "u": "integer",
    "f": "floating-point",
    "U": "string",
    "O": "object",
}

_BY_KIND_SIZE: dict[tuple[str, int], str] = {
    (dt.kind, dt.itemsize): name for name, dt in DATATYPES.items() if name not in ("BYTES",)
}


def numpy_dtype(datatype: str, where: str) -> np.dtype[Any]:
    """The numpy dtype of a V2 datatype.

    Args:
        datatype: a V2 datatype name such as ``FP32``.
        where: what the datatype belongs to, for the error message (``"input 'x'"``).

    Returns:
        The numpy dtype.

    Raises:
        InvalidInput: for a datatype this server does not know (``BF16`` has no numpy type).
    """
    dt = DATATYPES.get(datatype)
    if dt is None:
        known = ", ".join(DATATYPES)
        raise InvalidInput(f"{where}: unsupported datatype {datatype!r}; expected one of {known}")
    return dt


def datatype_of(array: np.ndarray) -> str:
    """The V2 datatype name for a numpy array's dtype (strings and objects are ``BYTES``)."""
    kind = array.dtype.kind
    if kind in "USOV":
        return "BYTES"
    name = _BY_KIND_SIZE.get((kind, array.dtype.itemsize))
    if name is None:
        raise InvalidInput(f"numpy dtype {array.dtype} has no Open Inference Protocol datatype")
    return name


def element_count(shape: Sequence[int]) -> int:
    """Number of elements of a tensor of ``shape`` (1 for a scalar shape ``[]``)."""
    return prod(shape)


def kind_name(kind: str) -> str:
    """A readable name for a numpy dtype kind, for error messages."""
    return _KIND_NAMES.get(kind, kind)


def encode_bytes_tensor(array: np.ndarray) -> bytes:
    """Raw encoding of a BYTES tensor: each element as a 4-byte LE length and its bytes."""
    parts: list[bytes] = []
    for item in array.ravel():
        data = item if isinstance(item, bytes) else str(item).encode()
        parts.append(struct.pack("<I", len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_bytes_tensor(raw: bytes | memoryview, where: str) -> list[bytes]:
    """Split the raw encoding of a BYTES tensor into its elements.

    Args:
        raw: the raw tensor contents.
        where: what the tensor is, for the error message.

    Returns:
        The elements in row-major order.
    """
    view = memoryview(raw)
    out: list[bytes] = []
    offset, size = 0, len(view)
    while offset < size:
        if offset + 4 > size:
            raise InvalidInput(f"{where}: truncated BYTES element length at byte {offset}")
        (length,) = struct.unpack_from("<I", view, offset)
        offset += 4
        if offset + length > size:
            raise InvalidInput(
                f"{where}: BYTES element at byte {offset - 4} claims {length} bytes, {size - offset} left"
            )
        out.append(bytes(view[offset : offset + length]))
        offset += length
    return out


def raw_to_numpy(raw: bytes | memoryview, datatype: str, shape: Sequence[int], where: str) -> np.ndarray:
    """Decode raw little-endian tensor contents into an array of ``shape``.

    Args:
        raw: the raw contents.
        datatype: the V2 datatype.
        shape: the tensor shape.
        where: what the tensor is, for error messages.

    Returns:
        The array (read-only view of ``raw`` for numeric types).
    """
    count = element_count(shape)
    if datatype == "BYTES":
        items = decode_bytes_tensor(raw, where)
        if len(items) != count:
            raise InvalidInput(f"{where}: shape {list(shape)} needs {count} BYTES elements, got {len(items)}")
        arr = np.empty(count, dtype=object)
        arr[:] = items
        return arr.reshape(shape)
    dt = numpy_dtype(datatype, where)
    expected = count * dt.itemsize
    if len(raw) != expected:
        raise InvalidInput(
            f"{where}: binary data has {len(raw)} bytes, "
            f"but shape {list(shape)} of {datatype} needs {expected}"
        )
    return np.frombuffer(raw, dtype=dt).reshape(shape)


def to_raw(array: np.ndarray, datatype: str) -> bytes:
    """Raw little-endian encoding of an array as ``datatype``."""
    if datatype == "BYTES":
        return encode_bytes_tensor(array)
    dt = DATATYPES[datatype]
    return np.ascontiguousarray(array, dtype=dt).tobytes()
