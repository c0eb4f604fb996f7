"""Parsing a JSON request body with a nesting limit, for every REST codec.

orjson refuses documents nested past 1024 levels by itself; :func:`loads` applies the server's own,
lower limit (``ServerSettings.max_json_depth``) and says so in the error. The check costs two
``bytes.count`` calls on an ordinary request: a body with no more opening brackets than the limit
cannot be nested deeper. Only a body with more brackets is scanned (bracket depth in 1 MiB chunks,
an upper bound since brackets inside strings count too), and only when that bound passes the limit
is the parsed document walked for its true depth.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from zeroserve.servers.errors import InvalidInput

__all__ = ["DEFAULT_MAX_DEPTH", "document_depth", "loads"]

DEFAULT_MAX_DEPTH = 64
"""Default nesting limit of request bodies (objects and arrays together)."""

_CHUNK = 1 << 20
_OPEN_SQUARE, _OPEN_CURLY, _CLOSE_SQUARE, _CLOSE_CURLY = b"[{]}"


def loads(body: bytes | memoryview, what: str, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse ``body`` as JSON, refusing documents nested deeper than ``max_depth``.

    Args:
        body: the JSON text.
        what: how the error names the document, e.g. ``"V1 request"``.
        max_depth: the deepest nesting of arrays and objects accepted.

    Returns:
        The parsed document.

    Raises:
        InvalidInput: not JSON, or nested deeper than ``max_depth``.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
        if reason.startswith("recursion limit") or "depth limit" in reason:
            raise InvalidInput(
                f"{what}: JSON nested deeper than {max_depth} levels (the server's max_json_depth)"
            ) from None
        raise InvalidInput(f"{what}: invalid JSON: {reason}") from None
    data = bytes(body) if isinstance(body, memoryview) else body
    if data.count(b"[") + data.count(b"{") > max_depth and _bracket_bound(data) > max_depth:
        depth = document_depth(doc, max_depth)
        if depth > max_depth:
            raise InvalidInput(
                f"{what}: JSON nested deeper than {max_depth} levels (the server's max_json_depth)"
            )
    return doc


def _bracket_bound(data: bytes) -> int:
    """The deepest bracket nesting of ``data`` counting brackets inside strings too (an upper bound)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    depth = 0
    deepest = 0
    for start in range(0, raw.size, _CHUNK):
        chunk = raw[start : start + _CHUNK]
        step = ((chunk == _OPEN_SQUARE) | (chunk == _OPEN_CURLY)).astype(np.int32)
        step -= ((chunk == _CLOSE_SQUARE) | (chunk == _CLOSE_CURLY)).astype(np.int32)
        running = np.cumsum(step, dtype=np.int64)
        if running.size:
            deepest = max(deepest, depth + int(running.max()))
            depth += int(running[-1])
    return deepest


def document_depth(doc: Any, stop_after: int | None = None) -> int:
    """The nesting depth of a parsed JSON document (a scalar is 0, ``[]`` is 1).

    Args:
        doc: the document.
        stop_after: return as soon as the depth is known to pass this.

    Returns:
        The depth (or the first depth past ``stop_after``).
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if stop_after is not None and deepest > stop_after:
                return deepest
        stack.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest
