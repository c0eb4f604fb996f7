"""A large V1 body of numeric rows, parsed straight into a numpy array.

``{"instances": [[6.8, 2.8, 4.8, 1.4], ...]}`` of 50 MB becomes some 12 million Python floats and
3 million lists when parsed as JSON (about 1 GB); a model that wants a matrix then copies it into an
array anyway. :func:`parse_numeric_instances` recognises exactly that shape of body (one key,
``instances``, holding equal-length rows of JSON numbers) with a few vectorised passes over the bytes
and parses the numbers with numpy, never building the lists. Anything else (another key, strings,
objects, ragged rows, a malformed number) returns ``None`` and the caller falls back to the JSON
parser, which then reports what is wrong.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["parse_numeric_instances"]

_HEAD = re.compile(rb'\s*\{\s*"instances"\s*:\s*\[')
_TAIL = re.compile(rb"\]\s*\}\s*\Z")

_ALLOWED = np.zeros(256, dtype=np.bool_)
for _byte in b"0123456789.eE+-[], \t\r\n":
    _ALLOWED[_byte] = True
_BRACKETS_TO_SPACES = bytes.maketrans(b"[]", b"  ")
_OPEN, _CLOSE, _COMMA = b"[],"


def _grid(raw: np.ndarray) -> tuple[int, int] | None:
    """``(rows, width)`` when ``raw`` is ``[[n, ...], ...]`` with equal rows of allowed bytes."""
    if not _ALLOWED[raw].all():
        return None
    opens = np.flatnonzero(raw == _OPEN)
    closes = np.flatnonzero(raw == _CLOSE)
    rows = opens.size - 1
    if rows < 1 or closes.size != opens.size or opens[0] != 0 or closes[-1] != raw.size - 1:
        return None
    inner_opens, inner_closes = opens[1:], closes[:-1]
    # Two levels exactly: each row closes before the next one opens.
    if not (inner_opens < inner_closes).all() or not (inner_closes[:-1] < inner_opens[1:]).all():
        return None
    commas = np.flatnonzero(raw == _COMMA)
    per_row = np.searchsorted(commas, inner_closes) - np.searchsorted(commas, inner_opens)
    width = int(per_row[0]) + 1
    between = np.searchsorted(commas, inner_opens[1:]) - np.searchsorted(commas, inner_closes[:-1])
    if not (per_row == width - 1).all() or not (between == 1).all():
        return None
    return rows, width


def parse_numeric_instances(body: bytes) -> np.ndarray | None:
    """The ``[N, F]`` array of a ``{"instances": [[numbers], ...]}`` body, or ``None``.

    Args:
        body: the request body.

    Returns:
        A float64 array (int64 when no number has a fraction or exponent), or ``None`` when the
        body is anything but equal-length rows of numbers under the single key ``instances``.
    """
    head = _HEAD.match(body)
    if head is None:
        return None
    tail = _TAIL.search(body, max(head.end(), len(body) - 64))
    if tail is None:
        return None
    region = memoryview(body)[head.end() - 1 : tail.start() + 1]  # the outer [ ... ]
    grid = _grid(np.frombuffer(region, dtype=np.uint8))  # its temporaries are gone before parsing
    if grid is None:
        return None
    rows, width = grid
    text = region.tobytes().translate(_BRACKETS_TO_SPACES)
    # A malformed number makes numpy stop early (fewer values: refused below) with a
    # DeprecationWarning, raised instead where warnings are errors. No warnings.catch_warnings():
    # this runs in a worker thread and that context manager swaps the filters of every thread.
    try:
        values = np.fromstring(text, dtype=np.float64, sep=",")
    except (ValueError, DeprecationWarning):
        return None
    if values.size != rows * width or not np.isfinite(values).all():
        return None
    if all(body.find(c, head.end(), tail.start()) < 0 for c in (b".", b"e", b"E")):
        # Integers only: as JSON parsing would give them (when float64 held them exactly).
        if values.size and max(-values.min(), values.max()) >= 2**53:
            return None
        return values.astype(np.int64).reshape(rows, width)
    return values.reshape(rows, width)
