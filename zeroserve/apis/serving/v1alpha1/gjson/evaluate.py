"""Evaluating parsed GJSON paths over parsed JSON values, with GJSON's comparison rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zeroserve.apis.serving.v1alpha1.gjson.syntax import (
    MISSING,
    Count,
    Key,
    Modifier,
    Query,
    Result,
    Segment,
    make_key,
)

__all__ = ["MODIFIERS", "walk"]

MODIFIERS: dict[str, Callable[[Any], Result]] = {
    "this": lambda v: Result(True, v),
    "reverse": lambda v: (
        Result(True, v[::-1] if isinstance(v, list) else dict(reversed(v.items())))
        if isinstance(v, list | dict)
        else Result(True, v)
    ),
    "keys": lambda v: Result(True, list(v)) if isinstance(v, dict) else MISSING,
    "values": lambda v: Result(True, list(v.values())) if isinstance(v, dict) else MISSING,
    "flatten": lambda v: (
        Result(True, [x for e in v for x in (e if isinstance(e, list) else [e])])
        if isinstance(v, list)
        else MISSING
    ),
}


def _like(value: str, pattern: str) -> bool:
    """GJSON's ``%`` operator: ``*`` matches any run, ``?`` one character, ``\\`` escapes."""
    compiled = make_key(pattern)
    if compiled.pattern is None:
        return value == compiled.name
    return compiled.pattern.fullmatch(value) is not None


def _child(value: Any, key: Key) -> Result:
    if isinstance(value, dict):
        if key.pattern is None:
            return Result(True, value[key.name]) if key.name in value else MISSING
        for k, v in value.items():
            if key.pattern.fullmatch(k):
                return Result(True, v)
        return MISSING
    if isinstance(value, list) and key.pattern is None and key.name.isdigit():
        index = int(key.name)
        return Result(True, value[index]) if index < len(value) else MISSING
    return MISSING


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


def _matches(query: Query, element: Any) -> bool:
    found = query.path.get(element) if query.path is not None else Result(True, element)
    if not found.exists:
        return False
    return query.op is None or _compare(found.value, query.op, query.value)


def _pipe_end(segments: tuple[Segment, ...], start: int, end: int) -> int:
    for j in range(start, end):
        if segments[j].piped:
            return j
    return end


def _map(items: list[Any], segments: tuple[Segment, ...], i: int, end: int) -> Result:
    stop = _pipe_end(segments, i, end)
    mapped = [r.value for e in items if (r := walk(e, segments, i, stop)).exists]
    return walk(mapped, segments, stop, end)


def walk(value: Any, segments: tuple[Segment, ...], i: int, end: int) -> Result:
    """Resolve ``segments[i:end]`` against ``value``.

    Args:
        value: the parsed JSON value.
        segments: a compiled path's segments.
        i: the first segment to apply.
        end: one past the last segment to apply.

    Returns:
        The result; ``exists`` is false when the path leads nowhere.
    """
    while i < end:
        component = segments[i].component
        if isinstance(component, Key):
            found = _child(value, component)
            if not found.exists:
                return MISSING
            value = found.value
        elif isinstance(component, Count):
            if not isinstance(value, list):
                return MISSING
            if i + 1 == end or segments[i + 1].piped:
                value = len(value)
            else:
                return _map(value, segments, i + 1, end)
        elif isinstance(component, Query):
            if not isinstance(value, list):
                return MISSING
            matches = [e for e in value if _matches(component, e)]
            if component.all:
                return _map(matches, segments, i + 1, end)
            if not matches:
                return MISSING
            value = matches[0]
        elif isinstance(component, Modifier):
            found = MODIFIERS[component.name](value)
            if not found.exists:
                return MISSING
            value = found.value
        else:
            results = [p.get(value) for p in component.paths]
            if component.kind == "[":
                value = [r.value for r in results if r.exists]
            else:
                value = {n: r.value for n, r in zip(component.names, results, strict=True) if r.exists}
        i += 1
    return Result(True, value)
