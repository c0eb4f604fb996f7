"""Request bodies: read within a size limit, decoded (JSON, YAML, protobuf) within shape limits.

The Kubernetes API server refuses a body over 3 MiB (``413``) and a document nested too deeply or
whose YAML aliases expand without bound (go-yaml's "excessive aliasing"). :class:`BodyLimits` holds
those limits and :func:`decode_body` applies them, so a 465-byte alias bomb is refused with a ``400``
naming the problem before anything walks, copies or stores its expansion. With ``duplicates`` set, a
JSON or YAML mapping that repeats a key is reported by path (``metadata.name``), for
``fieldValidation=Strict`` (refused) and ``Warn`` (a warning), as Kubernetes' strict decoder does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from zeroserve.local.apiserver import errors
from zeroserve.local.apiserver.protobuf import PROTOBUF, decode_protobuf
from zeroserve.process.asgi import BodyTooLarge, ClientDisconnected, Receive, read_body

__all__ = ["BodyLimits", "DecodedBody", "decode_body", "read_limited"]

_MIB = 1024 * 1024
_ALIAS_FACTOR = 10
"""How many times its written size a document may grow through YAML aliases past ``max_values``."""
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class BodyLimits:
    """What a request body may be."""

    max_bytes: int = 3 * _MIB
    """Largest body accepted, in bytes (Kubernetes: 3 MiB)."""
    max_depth: int = 100
    """Deepest nesting of objects and lists."""
    max_values: int = 100_000
    """Most values a YAML document may expand to through its aliases (``*ref``), when that is also
    more than ten times what it spells out."""


@dataclass
class DecodedBody:
    """A decoded body and the repeated keys found in it."""

    value: Any
    duplicates: list[str]


async def read_limited(receive: Receive, headers: Any, limits: BodyLimits) -> bytes:
    """Read a request body, refusing it as soon as it passes ``limits.max_bytes``.

    Args:
        receive: the request's ASGI receive.
        headers: the request headers (``content-length`` is checked first).
        limits: the limits.

    Returns:
        The body.

    Raises:
        ApiError: 413 when it is too large, 400 when the client went away mid-body.
    """
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(limits)
    try:
        return await read_body(receive, limits.max_bytes)
    except BodyTooLarge:
        raise _too_large(limits) from None
    except ClientDisconnected:
        raise errors.bad_request("the client disconnected before the request body ended") from None


def _too_large(limits: BodyLimits) -> errors.ApiError:
    return errors.ApiError(
        413,
        "RequestEntityTooLarge",
        f"Request entity too large: limit is {limits.max_bytes} bytes "
        "(setting ZEROSERVE_APISERVER_MAX_REQUEST_BYTES)",
    )


def decode_body(
    raw: bytes, content_type: str, limits: BodyLimits, *, duplicates: bool = False
) -> DecodedBody:
    """Decode a request body as its media type says, within the shape limits.

    Args:
        raw: the body.
        content_type: the ``Content-Type`` header.
        limits: nesting and alias-expansion limits.
        duplicates: also report keys a mapping repeats (costs a second parse).

    Returns:
        The value (an empty object for an empty body) and the repeated keys' paths.

    Raises:
        ApiError: 400 naming what is wrong, 415 for a media type the server does not read.
    """
    media = content_type.split(";")[0].strip()
    if media == PROTOBUF:
        return DecodedBody(decode_protobuf(raw), [])
    if "protobuf" in media or "cbor" in media:
        raise errors.unsupported_media_type(content_type)
    if not raw.strip():
        return DecodedBody({}, [])
    if "yaml" in media:
        value = _load_yaml(raw)
        _check_shape(value, limits)
        found = _yaml_duplicates(raw) if duplicates else []
        return DecodedBody(value, found)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        why = str(exc)
        if "recursion" in why or "depth" in why:
            why = f"objects and lists nested more than {limits.max_depth} deep"
        raise errors.bad_request(f"the request body could not be decoded: {why}") from None
    _check_shape(value, limits)
    return DecodedBody(value, _json_duplicates(raw) if duplicates else [])


def _load_yaml(raw: bytes) -> Any:
    try:
        return yaml.load(raw, Loader=_Loader)
    except RecursionError:
        raise errors.bad_request("the request body could not be decoded: YAML nested too deep") from None
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"the request body could not be decoded: {_yaml_reason(exc)}") from None


def _yaml_reason(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        where = (
            f" at line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}"
            if exc.problem_mark
            else ""
        )
        return f"YAML: {exc.problem or exc.context or 'invalid document'}{where}"
    return "YAML: invalid document"


def _check_shape(value: Any, limits: BodyLimits) -> None:
    """Measure the value as a client would see it, without expanding it: its depth, and how many
    values it holds once YAML aliases (shared objects after loading) are repeated where they stand.

    A walk with one entry per distinct list or mapping, so a document that expands to hundreds of
    millions of values is measured in microseconds. Refused: nesting past ``max_depth``, an alias
    inside itself, and an expansion past ``max_values`` that is also more than
    :data:`_ALIAS_FACTOR` times what was written (a few anchors reused stay legal at any size).
    """
    expanded: dict[int, int] = {}
    height: dict[int, int] = {}
    open_nodes: set[int] = set()
    written = 0
    if not isinstance(value, dict | list):
        return
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = list(node.values()) if isinstance(node, dict) else node
        nested = [child for child in children if isinstance(child, dict | list)]
        if finished:
            open_nodes.discard(key)
            expanded[key] = 1 + len(children) - len(nested) + sum(expanded[id(c)] for c in nested)
            height[key] = 1 + max((height[id(c)] for c in nested), default=0)
            if height[key] > limits.max_depth:
                raise errors.bad_request(
                    "the request body could not be decoded: "
                    f"objects and lists nested more than {limits.max_depth} deep"
                )
            continue
        if key in expanded:
            continue
        if key in open_nodes:
            raise errors.bad_request("the request body could not be decoded: a YAML alias refers to itself")
        open_nodes.add(key)
        written += 1 + len(children)
        stack.append((node, True))
        stack.extend((child, False) for child in nested if id(child) not in expanded)
    total = expanded.get(id(value), 1)
    if total > limits.max_values and total > _ALIAS_FACTOR * written:
        raise errors.bad_request(
            "the request body could not be decoded: it expands to more than "
            f"{limits.max_values} values (YAML aliases repeat too much)"
        )


class _Repeated(dict[str, Any]):
    """A decoded JSON object that remembers the keys it repeated."""

    repeated: list[str]


def _json_duplicates(raw: bytes) -> list[str]:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = _Repeated(items)
        if len(obj) < len(items):
            seen: set[str] = set()
            obj.repeated = []
            for key, _ in items:
                if key in seen:
                    obj.repeated.append(key)
                seen.add(key)
        return obj

    found: list[str] = []
    stack: list[tuple[Any, str]] = [(json.loads(raw, object_pairs_hook=pairs), "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key in getattr(node, "repeated", []):
                found.append(f'duplicate field "{path}.{key}"' if path else f'duplicate field "{key}"')
            stack.extend((child, f"{path}.{key}" if path else key) for key, child in node.items())
        elif isinstance(node, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(node))
    return sorted(found)


def _yaml_duplicates(raw: bytes) -> list[str]:
    node = yaml.compose(raw, Loader=_Loader)
    found: list[str] = []
    stack: list[tuple[yaml.Node, str]] = [(node, "")] if node is not None else []
    visited: set[int] = set()
    while stack:
        current, path = stack.pop()
        if id(current) in visited:
            continue
        visited.add(id(current))
        if isinstance(current, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in current.value:
                key = str(key_node.value)
                child = f"{path}.{key}" if path else key
                if key in keys:
                    found.append(f'duplicate field "{child}"')
                keys.add(key)
                stack.append((value_node, child))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(current.value))
    return sorted(found)
