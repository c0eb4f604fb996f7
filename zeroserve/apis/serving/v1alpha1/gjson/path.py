"""GJSON paths: :func:`compile_path` parses one into a :class:`GJSONPath` that evaluates itself."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from zeroserve.apis.serving.v1alpha1.gjson.evaluate import MODIFIERS, walk
from zeroserve.apis.serving.v1alpha1.gjson.syntax import (
    Component,
    Count,
    GJSONSyntaxError,
    Key,
    Modifier,
    Multipath,
    Query,
    Result,
    Segment,
    make_key,
)

__all__ = ["GJSONPath", "compile_path"]

OPERATORS = ("==", "!=", "<=", ">=", "!%", "=", "<", ">", "%")


@dataclass(frozen=True, slots=True)
class GJSONPath:
    """A compiled GJSON path; evaluate it with :meth:`get` or :meth:`exists`."""

    source: str
    segments: tuple[Segment, ...]

    def get(self, document: Any) -> Result:
        """Resolve the path against a parsed JSON value.

        Args:
            document: the value, as ``json.loads`` / ``orjson.loads`` return it.

        Returns:
            The :class:`Result`; ``exists`` is false when nothing matched.
        """
        return walk(document, self.segments, 0, len(self.segments))

    def exists(self, document: Any) -> bool:
        """Whether the path resolves to anything (GJSON's ``Get(...).Exists()``)."""
        return self.get(document).exists


def compile_path(path: str) -> GJSONPath:
    """Parse a GJSON path.

    Args:
        path: the path, e.g. ``instances.#(x>1)`` or ``[@this].#(predictions.0.class=="news")``.

    Returns:
        The compiled path.

    Raises:
        GJSONSyntaxError: the path is empty or malformed.
    """
    return GJSONPath(path, _Parser(path, 0).parse_path(len(path)))


class _Parser:
    def __init__(self, text: str, offset: int) -> None:
        self.text = text
        self.offset = offset

    def fail(self, message: str, index: int) -> GJSONSyntaxError:
        return GJSONSyntaxError(message, self.offset + index)

    def parse_path(self, end: int) -> tuple[Segment, ...]:
        text = self.text
        if end == 0:
            raise self.fail("empty path", 0)
        segments: list[Segment] = []
        i, piped = 0, False
        while True:
            component, i = self.parse_component(i, end)
            segments.append(Segment(piped, component))
            if i == end:
                break
            piped = text[i] == "|"
            i += 1
            if i == end:
                raise self.fail("path ends with a separator", i - 1)
        return tuple(segments)

    def parse_component(self, i: int, end: int) -> tuple[Component, int]:
        text = self.text
        if text.startswith("#(", i):
            close = _matching(text, i + 1, end, self)
            query = self.parse_query(i + 2, close)
            j = close + 1
            every = j < end and text[j] == "#"
            j += every
            if j < end and text[j] not in ".|":
                raise self.fail("unexpected character after a query", j)
            return Query(query[0], query[1], query[2], every), j
        if text[i] in "[{":
            close = _matching(text, i, end, self)
            return self.parse_multipath(text[i], i + 1, close), close + 1
        if text[i] == "@":
            j = _scan_key(text, i + 1, end)
            name = text[i + 1 : j].split(":", 1)[0]
            if name not in MODIFIERS:
                raise self.fail(f"unknown modifier @{name}", i)
            return Modifier(name), j
        j = _scan_key(text, i, end)
        raw = text[i:j]
        if not raw:
            raise self.fail("empty path component", i)
        if raw == "#":
            return Count(), j
        return make_key(raw), j

    def parse_query(self, start: int, end: int) -> tuple[GJSONPath | None, str | None, str]:
        text = self.text
        depth = 0
        for i, c in _unquoted(text, start, end):
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            elif depth == 0 and c in "=!<>%":
                op = next(o for o in OPERATORS if text.startswith(o, i)) if c != "!" or _bang(text, i) else ""
                if op:
                    left = text[start:i].strip()
                    right = text[i + len(op) : end].strip()
                    path = self.sub_path(left, start) if left else None
                    return path, ("=" if op == "==" else op), self.parse_value(right, i + len(op))
        left = text[start:end].strip()
        if not left:
            raise self.fail("empty query", start)
        return self.sub_path(left, start), None, ""

    def parse_value(self, raw: str, index: int) -> str:
        if not raw:
            raise self.fail("query has no value to compare with", index)
        if raw[0] != '"':
            return raw
        out, i = [], 1
        while i < len(raw):
            c = raw[i]
            if c == "\\" and i + 1 < len(raw):
                i += 1
                out.append({"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(raw[i], raw[i]))
            elif c == '"':
                if i != len(raw) - 1:
                    raise self.fail("text after a quoted value", index + i)
                return "".join(out)
            else:
                out.append(c)
            i += 1
        raise self.fail("unterminated string", index)

    def parse_multipath(self, kind: str, start: int, end: int) -> Multipath:
        parts: list[tuple[int, int]] = []
        depth, part_start = 0, start
        text = self.text
        for i, c in _unquoted(text, start, end):
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            elif c == "," and depth == 0:
                parts.append((part_start, i))
                part_start = i + 1
        parts.append((part_start, end))
        paths: list[GJSONPath] = []
        names: list[str] = []
        for a, b in parts:
            raw = text[a:b].strip()
            if not raw:
                raise self.fail("empty path in a multipath", a)
            path = self.sub_path(raw, a)
            last = path.segments[-1].component
            paths.append(path)
            names.append(last.name if isinstance(last, Key) else raw)
        return Multipath(kind, tuple(paths), tuple(names))

    def sub_path(self, raw: str, index: int) -> GJSONPath:
        return GJSONPath(raw, _Parser(raw, self.offset + index).parse_path(len(raw)))


def _unquoted(text: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    """Index and character of each character of ``text[start:end]`` that is outside a quoted string
    and not escaped: the ones whose brackets, operators and commas give a path its structure."""
    quoted, i = False, start
    while i < end:
        c = text[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "\\":
            i += 1
        else:
            yield i, c
        i += 1


def _bang(text: str, i: int) -> bool:
    return text.startswith("!=", i) or text.startswith("!%", i)


def _matching(text: str, open_at: int, end: int, parser: _Parser) -> int:
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[text[open_at]]]
    for i, c in _unquoted(text, open_at + 1, end):
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if c != stack.pop():
                raise parser.fail(f"mismatched {c!r}", i)
            if not stack:
                return i
    raise parser.fail(f"unclosed {text[open_at]!r}", open_at)


def _scan_key(text: str, i: int, end: int) -> int:
    while i < end:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c in ".|":
            break
        i += 1
    return min(i, end)
