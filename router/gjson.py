"""GJSON paths, the condition language of KServe's graph router, over parsed JSON values.

KServe evaluates a step's ``condition`` with ``gjson.GetBytes(body, condition).Exists()``
(github.com/tidwall/gjson). This module implements the part of GJSON's path syntax that graph
conditions use, with GJSON's observable results:

- keys and nested paths ``a.b.c``, array indexes ``a.0``, escapes ``a\\.b``, wildcards ``a*``/``b?``;
- ``#`` (array length; ``a.#.b`` maps ``b`` over the array's elements);
- queries ``#(path op value)`` (first match) and ``#(...)#`` (all matches), operators
  ``== = != < <= > >= % !%``, an empty left side meaning the element itself (``#(=="x")``), a bare
  path meaning "exists" (``#(b)``), nested queries, GJSON's loose typing (a number compared with
  ``"1"`` parses the string; a boolean only supports ``==``/``!=`` and GJSON's odd ordering);
- the pipe ``|`` (stops a ``#`` mapping), multipaths ``[p1,p2]`` and ``{p1,p2}``, and the modifiers
  ``@this``, ``@reverse``, ``@keys``, ``@values``, ``@flatten``.

Unlike GJSON, which silently returns nothing for a malformed path, :func:`compile_path` raises
:class:`GJSONSyntaxError`, so the planner can reject a graph whose condition can never be evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["GJSONPath", "GJSONSyntaxError", "Result", "compile_path"]


class GJSONSyntaxError(ValueError):
    """A GJSON path that cannot be parsed; ``position`` is the offending character's index."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position})")
        self.position = position


@dataclass(frozen=True, slots=True)
class Result:
    """What a path resolved to: ``exists`` as GJSON's ``Result.Exists()``, and the value."""

    exists: bool
    value: Any = None


_MISSING = Result(False)
_OPERATORS = ("==", "!=", "<=", ">=", "!%", "=", "<", ">", "%")
_MODIFIERS: dict[str, Callable[[Any], Result]] = {
    "this": lambda v: Result(True, v),
    "reverse": lambda v: (
        Result(True, v[::-1] if isinstance(v, list) else dict(reversed(v.items())))
        if isinstance(v, list | dict)
        else Result(True, v)
    ),
    "keys": lambda v: Result(True, list(v)) if isinstance(v, dict) else _MISSING,
    "values": lambda v: Result(True, list(v.values())) if isinstance(v, dict) else _MISSING,
    "flatten": lambda v: (
        Result(True, [x for e in v for x in (e if isinstance(e, list) else [e])])
        if isinstance(v, list)
        else _MISSING
    ),
}


@dataclass(frozen=True, slots=True)
class _Key:
    name: str
    pattern: re.Pattern[str] | None  # set when the key has unescaped wildcards


@dataclass(frozen=True, slots=True)
class _Count:
    pass


@dataclass(frozen=True, slots=True)
class _Query:
    path: GJSONPath | None
    op: str | None
    value: str
    all: bool


@dataclass(frozen=True, slots=True)
class _Modifier:
    name: str


@dataclass(frozen=True, slots=True)
class _Multipath:
    kind: str  # "[" or "{"
    paths: tuple[GJSONPath, ...]
    names: tuple[str, ...]


_Component = _Key | _Count | _Query | _Modifier | _Multipath


@dataclass(frozen=True, slots=True)
class _Segment:
    piped: bool  # preceded by "|" rather than "."
    component: _Component


@dataclass(frozen=True, slots=True)
class GJSONPath:
    """A compiled GJSON path; evaluate it with :meth:`get` or :meth:`exists`."""

    source: str
    segments: tuple[_Segment, ...]

    def get(self, document: Any) -> Result:
        """Resolve the path against a parsed JSON value.

        Args:
            document: the value, as ``json.loads`` / ``orjson.loads`` return it.

        Returns:
            The :class:`Result`; ``exists`` is false when nothing matched.
        """
        return _walk(document, self.segments, 0, len(self.segments))

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

    def parse_path(self, end: int) -> tuple[_Segment, ...]:
        text = self.text
        if end == 0:
            raise self.fail("empty path", 0)
        segments: list[_Segment] = []
        i, piped = 0, False
        while True:
            component, i = self.parse_component(i, end)
            segments.append(_Segment(piped, component))
            if i == end:
                break
            piped = text[i] == "|"
            i += 1
            if i == end:
                raise self.fail("path ends with a separator", i - 1)
        return tuple(segments)

    def parse_component(self, i: int, end: int) -> tuple[_Component, int]:
        text = self.text
        if text.startswith("#(", i):
            close = _matching(text, i + 1, end, self)
            query = self.parse_query(i + 2, close)
            j = close + 1
            every = j < end and text[j] == "#"
            j += every
            if j < end and text[j] not in ".|":
                raise self.fail("unexpected character after a query", j)
            return _Query(query[0], query[1], query[2], every), j
        if text[i] in "[{":
            close = _matching(text, i, end, self)
            return self.parse_multipath(text[i], i + 1, close), close + 1
        if text[i] == "@":
            j = _scan_key(text, i + 1, end)
            name = text[i + 1 : j].split(":", 1)[0]
            if name not in _MODIFIERS:
                raise self.fail(f"unknown modifier @{name}", i)
            return _Modifier(name), j
        j = _scan_key(text, i, end)
        raw = text[i:j]
        if not raw:
            raise self.fail("empty path component", i)
        if raw == "#":
            return _Count(), j
        return _key(raw), j

    def parse_query(self, start: int, end: int) -> tuple[GJSONPath | None, str | None, str]:
        text = self.text
        depth, quoted, i = 0, False, start
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
            elif c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            elif depth == 0 and c in "=!<>%":
                op = (
                    next(o for o in _OPERATORS if text.startswith(o, i)) if c != "!" or _bang(text, i) else ""
                )
                if op:
                    left = text[start:i].strip()
                    right = text[i + len(op) : end].strip()
                    path = self.sub_path(left, start) if left else None
                    return path, ("=" if op == "==" else op), self.parse_value(right, i + len(op))
            i += 1
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

    def parse_multipath(self, kind: str, start: int, end: int) -> _Multipath:
        parts: list[tuple[int, int]] = []
        depth, quoted, i, part_start = 0, False, start, start
        text = self.text
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
            elif c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            elif c == "," and depth == 0:
                parts.append((part_start, i))
                part_start = i + 1
            i += 1
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
            names.append(last.name if isinstance(last, _Key) else raw)
        return _Multipath(kind, tuple(paths), tuple(names))

    def sub_path(self, raw: str, index: int) -> GJSONPath:
        return GJSONPath(raw, _Parser(raw, self.offset + index).parse_path(len(raw)))


def _bang(text: str, i: int) -> bool:
    return text.startswith("!=", i) or text.startswith("!%", i)


def _matching(text: str, open_at: int, end: int, parser: _Parser) -> int:
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[text[open_at]]]
    quoted, i = False, open_at + 1
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
        elif c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if c != stack.pop():
                raise parser.fail(f"mismatched {c!r}", i)
            if not stack:
                return i
        i += 1
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


def _key(raw: str) -> _Key:
    name: list[str] = []
    regex: list[str] = []
    wild, i = False, 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            i += 1
            name.append(raw[i])
            regex.append(re.escape(raw[i]))
        elif c in "*?":
            wild = True
            name.append(c)
            regex.append(".*" if c == "*" else ".")
        else:
            name.append(c)
            regex.append(re.escape(c))
        i += 1
    return _Key("".join(name), re.compile("".join(regex), re.DOTALL) if wild else None)


def _like(value: str, pattern: str) -> bool:
    """GJSON's ``%`` operator: ``*`` matches any run, ``?`` one character, ``\\`` escapes."""
    compiled = _key(pattern)
    if compiled.pattern is None:
        return value == compiled.name
    return compiled.pattern.fullmatch(value) is not None


def _child(value: Any, key: _Key) -> Result:
    if isinstance(value, dict):
        if key.pattern is None:
            return Result(True, value[key.name]) if key.name in value else _MISSING
        for k, v in value.items():
            if key.pattern.fullmatch(k):
                return Result(True, v)
        return _MISSING
    if isinstance(value, list) and key.pattern is None and key.name.isdigit():
        index = int(key.name)
        return Result(True, value[index]) if index < len(value) else _MISSING
    return _MISSING


def _number(raw: str) -> float:
    try:
        return float(raw) if raw == raw.strip() else 0.0
    except ValueError:
        return 0.0


def _compare(value: Any, op: str, rpv: str) -> bool:
    if isinstance(value, str):
        if op == "%":
            return _like(value, rpv)
        if op == "!%":
            return not _like(value, rpv)
        return _ordered(value, op, rpv)
    if value is True:
        return {"=": rpv == "true", "!=": rpv != "true", ">": rpv == "false", ">=": True}.get(op, False)
    if value is False:
        return {"=": rpv == "false", "!=": rpv != "false", "<": rpv == "true", "<=": True}.get(op, False)
    if isinstance(value, int | float):
        return _ordered(float(value), op, _number(rpv))
    return False


def _ordered(a: Any, op: str, b: Any) -> bool:
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    if op == ">=":
        return bool(a >= b)
    return False


def _matches(query: _Query, element: Any) -> bool:
    found = query.path.get(element) if query.path is not None else Result(True, element)
    if not found.exists:
        return False
    return query.op is None or _compare(found.value, query.op, query.value)


def _pipe_end(segments: tuple[_Segment, ...], start: int, end: int) -> int:
    for j in range(start, end):
        if segments[j].piped:
            return j
    return end


def _map(items: list[Any], segments: tuple[_Segment, ...], i: int, end: int) -> Result:
    stop = _pipe_end(segments, i, end)
    mapped = [r.value for e in items if (r := _walk(e, segments, i, stop)).exists]
    return _walk(mapped, segments, stop, end)


def _walk(value: Any, segments: tuple[_Segment, ...], i: int, end: int) -> Result:
    while i < end:
        component = segments[i].component
        if isinstance(component, _Key):
            found = _child(value, component)
            if not found.exists:
                return _MISSING
            value = found.value
        elif isinstance(component, _Count):
            if not isinstance(value, list):
                return _MISSING
            if i + 1 == end or segments[i + 1].piped:
                value = len(value)
            else:
                return _map(value, segments, i + 1, end)
        elif isinstance(component, _Query):
            if not isinstance(value, list):
                return _MISSING
            matches = [e for e in value if _matches(component, e)]
            if component.all:
                return _map(matches, segments, i + 1, end)
            if not matches:
                return _MISSING
            value = matches[0]
        elif isinstance(component, _Modifier):
            found = _MODIFIERS[component.name](value)
            if not found.exists:
                return _MISSING
            value = found.value
        else:
            results = [p.get(value) for p in component.paths]
            if component.kind == "[":
                value = [r.value for r in results if r.exists]
            else:
                value = {n: r.value for n, r in zip(component.names, results, strict=True) if r.exists}
        i += 1
    return Result(True, value)
