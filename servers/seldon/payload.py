"""SeldonMessage payloads (the JSON form, as REST carries it and gRPC converts to): in and out.

In: ``data`` (``names`` plus one of ``tensor``, ``ndarray``, ``tftensor``), ``strData``,
``binData`` (base64), ``jsonData``; ``meta`` (``puid``, ``tags``, ``routing``, ``requestPath``,
``metrics``). Out, as Seldon's wrapper shapes it: a dict becomes ``jsonData``, bytes ``binData``, a
string ``strData``; a numeric array keeps the request's data kind (``tensor``, ``tftensor`` or
``ndarray``) and anything else becomes ``ndarray``. ``meta.puid`` is echoed, request tags are merged
with the component's, and its metrics are listed.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from zeroserve.servers.seldon.errors import SeldonError
from zeroserve.servers.seldon.tftensor import from_tftensor, to_tftensor

__all__ = [
    "Message",
    "data_kind",
    "default_names",
    "encode_data",
    "features_of",
    "meta_of",
    "names_of",
    "require_message",
    "response_meta",
]

Message = dict[str, Any]
"""A SeldonMessage in its JSON form."""

_DATA_KEYS = ("data", "strData", "binData", "jsonData", "customData")


def require_message(doc: Any, where: str = "request") -> Message:
    """Check that ``doc`` is a SeldonMessage object carrying data; return it.

    Raises:
        SeldonError: 400 saying what is missing or of the wrong type.
    """
    if not isinstance(doc, dict):
        raise SeldonError(f"the {where} must be a JSON object (a SeldonMessage), got {_type(doc)}")
    meta = doc.get("meta")
    if meta is not None:
        meta_of(doc, where)
    return doc


def _type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def meta_of(msg: Message, where: str = "request") -> dict[str, Any]:
    """The message's ``meta``, checked field by field (``{}`` when absent)."""
    meta = msg.get("meta")
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise SeldonError(f'{where} "meta" must be an object, got {_type(meta)}')
    for key, kind in (("tags", dict), ("routing", dict), ("requestPath", dict), ("metrics", list)):
        value = meta.get(key)
        if value is not None and not isinstance(value, kind):
            raise SeldonError(f'{where} "meta.{key}" must be {"an object" if kind is dict else "an array"}')
    puid = meta.get("puid")
    if puid is not None and not isinstance(puid, str):
        raise SeldonError(f'{where} "meta.puid" must be a string')
    routing = meta.get("routing") or {}
    for name, value in routing.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise SeldonError(f'{where} "meta.routing.{name}" must be an integer')
    return meta


def data_kind(msg: Message) -> str:
    """``tensor``, ``ndarray``, ``tftensor``, ``strData``, ``binData``, ``jsonData`` or ``""``."""
    data = msg.get("data")
    if isinstance(data, dict):
        for kind in ("tensor", "ndarray", "tftensor"):
            if kind in data:
                return kind
        return ""
    for key in ("strData", "binData", "jsonData"):
        if key in msg:
            return key
    return ""


def names_of(msg: Message, where: str = "request") -> list[str]:
    """``data.names`` (``[]`` when absent)."""
    data = msg.get("data")
    names = data.get("names") if isinstance(data, dict) else None
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SeldonError(f'{where} "data.names" must be a list of strings')
    return names


def features_of(msg: Message, where: str = "request") -> Any:
    """The payload handed to the user's method: an array, a str, bytes or the JSON value.

    Raises:
        SeldonError: 400 naming the field when there is no data or it is malformed.
    """
    if "data" in msg:
        data = msg["data"]
        if not isinstance(data, dict):
            raise SeldonError(f'{where} "data" must be an object, got {_type(data)}')
        if "tensor" in data:
            return _tensor(data["tensor"], where)
        if "ndarray" in data:
            return _ndarray(data["ndarray"], where)
        if "tftensor" in data:
            return from_tftensor(data["tftensor"])
        raise SeldonError(f'{where} "data" needs one of "tensor", "ndarray" or "tftensor"')
    if "strData" in msg:
        value = msg["strData"]
        if not isinstance(value, str):
            raise SeldonError(f'{where} "strData" must be a string, got {_type(value)}')
        return value
    if "binData" in msg:
        value = msg["binData"]
        if not isinstance(value, str):
            raise SeldonError(f'{where} "binData" must be a base64 string, got {_type(value)}')
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise SeldonError(f'{where} "binData" is not valid base64') from None
    if "jsonData" in msg:
        return msg["jsonData"]
    if "customData" in msg:
        raise SeldonError(f'{where} "customData" (a protobuf Any) is only understood by *_raw methods')
    raise SeldonError(f'{where} has no data: give one of "data", "strData", "binData" or "jsonData"')


def _tensor(tensor: Any, where: str) -> np.ndarray:
    if not isinstance(tensor, dict):
        raise SeldonError(f'{where} "data.tensor" must be an object with "shape" and "values"')
    values = tensor.get("values", [])
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise SeldonError(f'{where} "data.tensor.values" must be a list of numbers')
    shape = tensor.get("shape", [len(values)])
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= max(len(values), 1) for d in shape
    ):
        raise SeldonError(
            f'{where} "data.tensor.shape" must be a list of non-negative integers '
            f"no larger than the number of values ({len(values)})"
        )
    count = int(np.prod(shape, dtype=np.float64)) if shape else 1
    if count != len(values):
        raise SeldonError(f'{where} "data.tensor": shape {shape} needs {count} values, got {len(values)}')
    return np.asarray(values, dtype=np.float64).reshape(shape)


def _ndarray(rows: Any, where: str) -> np.ndarray:
    if not isinstance(rows, list):
        raise SeldonError(f'{where} "data.ndarray" must be a list, got {_type(rows)}')
    try:
        return np.array(rows)
    except ValueError:  # ragged rows: keep them as objects, as a list of lists
        arr = np.empty(len(rows), dtype=object)
        arr[:] = rows
        return arr


def default_names(arr: np.ndarray) -> list[str]:
    """Seldon's default column names ``t:0 .. t:n-1`` for a 2-D or deeper answer, else none."""
    if arr.ndim > 1:
        return [f"t:{i}" for i in range(arr.shape[1])]
    return []


def encode_data(result: Any, request: Message, names: list[str] | None) -> Message:
    """The data part of a response to ``request`` for what a user method returned.

    Args:
        result: the user method's answer.
        request: the request (its data kind decides a numeric answer's kind).
        names: column names; ``None`` gives Seldon's defaults.

    Returns:
        A message with one of ``data``, ``jsonData``, ``binData``, ``strData``.
    """
    if isinstance(result, dict):
        return {"jsonData": result}
    if isinstance(result, bytes | bytearray):
        return {"binData": base64.b64encode(bytes(result)).decode("ascii")}
    if isinstance(result, str):
        return {"strData": result}
    arr = result if isinstance(result, np.ndarray) else np.array(result, dtype=_guess(result))
    if names is None:
        names = default_names(arr)
    kind = data_kind(request)
    numeric = np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
    if numeric and kind == "tensor":
        body: dict[str, Any] = {"tensor": {"shape": list(arr.shape), "values": arr.ravel().tolist()}}
    elif numeric and kind == "tftensor":
        body = {"tftensor": to_tftensor(arr)}
    else:
        body = {"ndarray": arr.tolist()}
    return {"data": {"names": list(names), **body}}


def _guess(result: Any) -> Any:
    try:
        np.array(result)
    except ValueError:
        return object
    return None


def response_meta(
    request: Message,
    tags: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The response's ``meta``: the request's ``puid``, tags merged (the component's win), the
    request's ``routing`` and ``requestPath`` carried on, and the component's metrics."""
    meta_in = request.get("meta") or {}
    meta: dict[str, Any] = {}
    puid = meta_in.get("puid")
    if puid:
        meta["puid"] = puid
    merged = dict(meta_in.get("tags") or {})
    if tags:
        merged.update(tags)
    if merged:
        meta["tags"] = merged
    for key in ("routing", "requestPath"):
        if meta_in.get(key):
            meta[key] = dict(meta_in[key])
    if metrics:
        meta["metrics"] = metrics
    return meta
