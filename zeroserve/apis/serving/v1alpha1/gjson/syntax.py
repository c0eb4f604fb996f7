"""GJSON path syntax: the parsed components of a path, and what evaluating one yields."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zeroserve.apis.serving.v1alpha1.gjson.path import GJSONPath

__all__ = [
    "MISSING",
    "Component",
    "Count",
    "GJSONSyntaxError",
    "Key",
    "Modifier",
    "Multipath",
    "Query",
    "Result",
    "Segment",
    "make_key",
]


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


MISSING = Result(False)


@dataclass(frozen=True, slots=True)
class Key:
    """A key (or array index, or wildcard pattern) component: ``name``, ``0``, ``na*e``."""

    name: str
    pattern: re.Pattern[str] | None  # set when the key has unescaped wildcards


@dataclass(frozen=True, slots=True)
class Count:
    """``#``: an array's length, or (followed by a path) a map over its elements."""

    pass


@dataclass(frozen=True, slots=True)
class Query:
    """``#(path op value)``: the first matching element, or every one with ``all`` (``#(...)#``)."""

    path: GJSONPath | None
    op: str | None
    value: str
    all: bool


@dataclass(frozen=True, slots=True)
class Modifier:
    """``@name``: one of GJSON's modifiers."""

    name: str


@dataclass(frozen=True, slots=True)
class Multipath:
    """``[p1,p2]`` (an array of the results) or ``{p1,p2}`` (an object keyed by last key)."""

    kind: str  # "[" or "{"
    paths: tuple[GJSONPath, ...]
    names: tuple[str, ...]


Component = Key | Count | Query | Modifier | Multipath


@dataclass(frozen=True, slots=True)
class Segment:
    """One component of a path and the separator before it."""

    piped: bool  # preceded by "|" rather than "."
    component: Component


def make_key(raw: str) -> Key:
    """A key component; ``*`` / ``?`` make it a wildcard, ``\\`` escapes."""
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
    return Key("".join(name), re.compile("".join(regex), re.DOTALL) if wild else None)
