"""Decoding of the Kubernetes protobuf request bodies kubectl sends for a few built-in kinds.

kubectl's typed clients (``kubectl create namespace | configmap | secret | serviceaccount | token``) send
``application/vnd.kubernetes.protobuf``: the magic ``k8s\\0`` and a ``runtime.Unknown`` envelope whose
``raw`` bytes are the object's message. This module reads the protobuf wire format and maps the field
numbers of ``k8s.io/api/core/v1`` Namespace, ConfigMap, Secret and ServiceAccount, and of
``authentication.k8s.io/v1`` TokenRequest and TokenReview (and ``ObjectMeta``) to their JSON
form. Responses are always JSON, which clients accept.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from zeroserve.local.apiserver.errors import bad_request, unsupported_media_type

__all__ = ["PROTOBUF", "decode_protobuf"]

PROTOBUF = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"

# field number -> (json name, kind); kinds: str, bytes, int, bool, time, msg:<schema>, map:str, map:bytes,
# list:str, list:msg:<schema>
_Schema = dict[int, tuple[str, str]]
_SCHEMAS: dict[str, _Schema] = {
    "TypeMeta": {1: ("apiVersion", "str"), 2: ("kind", "str")},
    "Unknown": {
        1: ("typeMeta", "msg:TypeMeta"),
        2: ("raw", "bytes"),
        3: ("contentEncoding", "str"),
        4: ("contentType", "str"),
    },
    "OwnerReference": {
        1: ("kind", "str"),
        3: ("name", "str"),
        4: ("uid", "str"),
        5: ("apiVersion", "str"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "ObjectMeta": {
        1: ("name", "str"),
        2: ("generateName", "str"),
        3: ("namespace", "str"),
        5: ("uid", "str"),
        6: ("resourceVersion", "str"),
        7: ("generation", "int"),
        8: ("creationTimestamp", "time"),
        11: ("labels", "map:str"),
        12: ("annotations", "map:str"),
        13: ("ownerReferences", "list:msg:OwnerReference"),
        14: ("finalizers", "list:str"),
    },
    "NamespaceSpec": {1: ("finalizers", "list:str")},
    "NamespaceStatus": {1: ("phase", "str")},
    "Namespace": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:NamespaceSpec"),
        3: ("status", "msg:NamespaceStatus"),
    },
    "ConfigMap": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "map:str"),
        3: ("binaryData", "map:bytes"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "map:bytes"),
        3: ("type", "str"),
        4: ("stringData", "map:str"),
        5: ("immutable", "bool"),
    },
    "ServiceAccount": {1: ("metadata", "msg:ObjectMeta"), 4: ("automountServiceAccountToken", "bool")},
    "BoundObjectReference": {
        1: ("kind", "str"),
        2: ("apiVersion", "str"),
        3: ("name", "str"),
        4: ("uid", "str"),
    },
    "TokenRequestSpec": {
        1: ("audiences", "list:str"),
        3: ("boundObjectRef", "msg:BoundObjectReference"),
        4: ("expirationSeconds", "int"),
    },
    "TokenRequest": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:TokenRequestSpec")},
    "TokenReviewSpec": {1: ("token", "str"), 2: ("audiences", "list:str")},
    "TokenReview": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:TokenReviewSpec")},
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
}
_DECODED_KINDS = ("Namespace", "ConfigMap", "Secret", "ServiceAccount", "TokenRequest", "TokenReview")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    fields = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
            if pos > len(data):
                raise ValueError("truncated field")
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        fields.append((number, wire, value))
    return fields


def _scalar(kind: str, value: Any) -> Any:
    if kind == "str":
        return bytes(value).decode()
    if kind == "bytes":
        return bytes(value)
    if kind == "int":
        return value - (1 << 64) if value >= 1 << 63 else value
    if kind == "bool":
        return bool(value)
    if kind == "time":
        seconds = _message("Time", value).get("seconds", 0)
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if seconds else None
    if kind.startswith("msg:"):
        return _message(kind[4:], value)
    raise ValueError(f"unknown kind {kind}")


def _message(schema_name: str, data: bytes) -> dict[str, Any]:
    schema = _SCHEMAS[schema_name]
    out: dict[str, Any] = {}
    for number, _, value in _fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if kind.startswith("map:"):
            entry = dict((n, v) for n, _, v in _fields(value))
            raw = entry.get(2, b"")
            item = base64.b64encode(raw).decode() if kind == "map:bytes" else bytes(raw).decode()
            out.setdefault(name, {})[bytes(entry.get(1, b"")).decode()] = item
        elif kind.startswith("list:"):
            out.setdefault(name, []).append(_scalar(kind[5:], value))
        else:
            out[name] = _scalar(kind, value)
    # proto2 optional fields arrive even when unset: drop the zero values the JSON form would omit
    return {k: v for k, v in out.items() if v not in ("", None) and not (v == 0 and type(v) is int)}


def decode_protobuf(body: bytes) -> dict[str, Any]:
    """Decode a Kubernetes protobuf request body into the object's JSON form.

    Args:
        body: the raw body (``k8s\\0`` + ``runtime.Unknown``).

    Returns:
        The object with ``apiVersion`` and ``kind``.

    Raises:
        ApiError: 400 for a malformed body, 415 for a kind this server cannot decode from protobuf.
    """
    if not body.startswith(_MAGIC):
        raise bad_request("protobuf body without the k8s magic prefix")
    try:
        envelope = _message("Unknown", body[len(_MAGIC) :])
        type_meta = envelope.get("typeMeta", {})
        kind = type_meta.get("kind", "")
        if kind not in _DECODED_KINDS:
            raise unsupported_media_type(f"{PROTOBUF} (kind {kind or 'unknown'}); send application/json")
        obj = _message(kind, envelope.get("raw", b""))
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"the protobuf body could not be decoded: {exc}") from exc
    obj.setdefault("metadata", {})
    return {"apiVersion": type_meta.get("apiVersion", "v1"), "kind": kind, **obj}
