"""A small reader of protobuf text format, enough for Triton's ``config.pbtxt``.

``field: scalar``, ``field { ... }`` / ``field: { ... }``, ``field: [a, b]`` and ``field: [{...}, {...}]``;
strings in single or double quotes (with backslash escapes), numbers, identifiers (enum values, booleans);
``#`` comments; an optional ``,`` or ``;`` after a field. A field that appears more than once becomes a
list. Errors name the line and column.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["TextFormatError", "parse_text_proto"]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?[fF]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>[{}\[\]:,;<>])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


class TextFormatError(ValueError):
    """The text is not valid protobuf text format; the message says where."""


class _Tokens:
    def __init__(self, text: str) -> None:
        self.text = text
        self.items: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                raise TextFormatError(f"{self.where(pos)}: unexpected character {text[pos]!r}")
            kind = match.lastgroup or ""
            if kind != "space":
                self.items.append((kind, match.group(), pos))
            pos = match.end()
        self.i = 0

    def where(self, pos: int) -> str:
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return f"line {line}, column {column}"

    def peek(self) -> tuple[str, str, int] | None:
        return self.items[self.i] if self.i < len(self.items) else None

    def take(self, expected: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise TextFormatError(f"unexpected end of text{f', expected {expected!r}' if expected else ''}")
        if expected is not None and token[1] != expected:
            raise TextFormatError(f"{self.where(token[2])}: expected {expected!r}, found {token[1]!r}")
        self.i += 1
        return token


def _unquote(text: str) -> str:
    body = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _scalar(tokens: _Tokens) -> Any:
    kind, text, pos = tokens.take()
    if kind == "string":
        value = _unquote(text)
        while (nxt := tokens.peek()) is not None and nxt[0] == "string":  # adjacent strings concatenate
            value += _unquote(tokens.take()[1])
        return value
    if kind == "number":
        number = text.rstrip("fF")
        return float(number) if any(c in number for c in ".eE") else int(number)
    if kind == "ident":
        return {"true": True, "false": False}.get(text, text)
    raise TextFormatError(f"{tokens.where(pos)}: expected a value, found {text!r}")


def _message(tokens: _Tokens, close: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    while True:
        token = tokens.peek()
        if token is None:
            if close is not None:
                raise TextFormatError(f"unexpected end of text, expected {close!r}")
            return fields
        if close is not None and token[1] == close:
            tokens.take()
            return fields
        kind, name, pos = tokens.take()
        if kind != "ident":
            raise TextFormatError(f"{tokens.where(pos)}: expected a field name, found {name!r}")
        nxt = tokens.peek()
        if nxt is not None and nxt[1] == ":":
            tokens.take()
            nxt = tokens.peek()
        if nxt is None:
            raise TextFormatError(f"{tokens.where(pos)}: field {name!r} has no value")
        if nxt[1] in ("{", "<"):
            tokens.take()
            value: Any = _message(tokens, "}" if nxt[1] == "{" else ">")
        elif nxt[1] == "[":
            tokens.take()
            value = []
            while (item := tokens.peek()) is not None and item[1] != "]":
                if item[1] in ("{", "<"):
                    tokens.take()
                    value.append(_message(tokens, "}" if item[1] == "{" else ">"))
                else:
                    value.append(_scalar(tokens))
                if (sep := tokens.peek()) is not None and sep[1] == ",":
                    tokens.take()
            tokens.take("]")
        else:
            value = _scalar(tokens)
        if name in fields:
            old = fields[name]
            fields[name] = (old if isinstance(old, list) else [old]) + (
                value if isinstance(value, list) else [value]
            )
        else:
            fields[name] = value
        if (sep := tokens.peek()) is not None and sep[1] in (",", ";"):
            tokens.take()


def parse_text_proto(text: str) -> dict[str, Any]:
    """Parse protobuf text format into nested dicts (repeated fields as lists).

    Args:
        text: e.g. the contents of a ``config.pbtxt``.

    Returns:
        field name -> value.

    Raises:
        TextFormatError: the text is malformed; the message gives the line and column.
    """
    return _message(_Tokens(text), None)
