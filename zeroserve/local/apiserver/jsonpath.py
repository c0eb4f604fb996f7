"""The subset of Kubernetes JSONPath that ``additionalPrinterColumns`` use.

Supported: ``.field`` (with ``\\.`` escapes), ``['key']`` / ``["key"]``, ``[n]``, ``[*]``, ``.*`` and
filters ``[?(@.path==literal)]`` / ``!=`` with string, number, boolean literals. Evaluation returns every
match, so a filter over a list yields one value per matching item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["JsonPath", "JsonPathError"]


class JsonPathError(ValueError):
    """The expression is outside the supported subset."""


@dataclass(frozen=True)
class _Field:
    name: str


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Filter:
    path: tuple[Any, ...]
    op: str
    literal: Any


class JsonPath:
    """A compiled expression.

    Args:
        expression: e.g. ``.status.conditions[?(@.type=='Ready')].status`` (braces optional).
    """

    def __init__(self, expression: str) -> None:
        text = expression.strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        text = text.removeprefix("$")
        self.expression = expression
        self._steps = _parse(text)

    def find(self, obj: Any) -> list[Any]:
        """Evaluate against ``obj``.

        Args:
            obj: a JSON-like value.

        Returns:
            Every matching value, in document order.
        """
        return _evaluate(self._steps, [obj])


def _parse(text: str) -> tuple[Any, ...]:
    steps: list[Any] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == ".":
            i += 1
            if i < len(text) and text[i] == "*":
                steps.append(_Wildcard())
                i += 1
                continue
            name = []
            while i < len(text) and text[i] not in ".[":
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                name.append(text[i])
                i += 1
            if name:
                steps.append(_Field("".join(name)))
        elif char == "[":
            end = _closing(text, i)
            steps.append(_bracket(text[i + 1 : end].strip()))
            i = end + 1
        else:
            raise JsonPathError(f"unexpected {char!r} at {i} in {text!r}")
    return tuple(steps)


def _closing(text: str, start: int) -> int:
    depth, quote = 0, ""
    for i in range(start, len(text)):
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return i
    raise JsonPathError(f"unclosed '[' in {text!r}")


def _bracket(inner: str) -> Any:
    if inner == "*":
        return _Wildcard()
    if inner[:1] in "'\"":
        return _Field(inner[1:-1].replace("\\.", "."))
    if inner.startswith("?(") and inner.endswith(")"):
        condition = inner[2:-1].strip()
        for op in ("==", "!="):
            if op in condition:
                left, right = (part.strip() for part in condition.split(op, 1))
                if not left.startswith("@"):
                    raise JsonPathError(f"filter must start with @: {inner!r}")
                return _Filter(_parse(left[1:]), op, _literal(right))
        return _Filter(_parse(condition.removeprefix("@")), "exists", None)
    try:
        return _Index(int(inner))
    except ValueError:
        raise JsonPathError(f"unsupported subscript [{inner}]") from None


def _literal(text: str) -> Any:
    if text[:1] in "'\"" and text[-1:] == text[:1]:
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        raise JsonPathError(f"unsupported literal {text!r}") from None


def _evaluate(steps: tuple[Any, ...], current: list[Any]) -> list[Any]:
    for step in steps:
        following: list[Any] = []
        for value in current:
            if isinstance(step, _Field):
                if isinstance(value, dict) and step.name in value:
                    following.append(value[step.name])
            elif isinstance(step, _Index):
                if isinstance(value, list) and -len(value) <= step.index < len(value):
                    following.append(value[step.index])
            elif isinstance(step, _Wildcard):
                if isinstance(value, dict):
                    following.extend(value.values())
                elif isinstance(value, list):
                    following.extend(value)
            else:
                items = (
                    value
                    if isinstance(value, list)
                    else list(value.values())
                    if isinstance(value, dict)
                    else []
                )
                following.extend(item for item in items if _matches(step, item))
        current = following
    return current


def _matches(step: _Filter, item: Any) -> bool:
    found = _evaluate(step.path, [item])
    if step.op == "exists":
        return bool(found)
    equal = bool(found) and found[0] == step.literal and type(found[0]) is type(step.literal)
    return equal if step.op == "==" else not equal
