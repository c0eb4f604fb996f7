"""Label and field selectors, parsed from the ``labelSelector`` / ``fieldSelector`` query parameters.

Label selectors support Kubernetes' full syntax (``a=b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``,
``a``, ``!a``). Field selectors support ``=``, ``==`` and ``!=`` on any dotted field path of the object
(``metadata.name``, ``metadata.namespace``, ``involvedObject.uid`` ...), a superset of what Kubernetes
allows per kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from zeroserve.local.apiserver.errors import bad_request

__all__ = ["Selector", "parse_field_selector", "parse_label_selector"]

Selector = Callable[[dict[str, Any]], bool]
_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_./-]*)\s*$")


def _split(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


_LabelCheck = Callable[[dict[str, str]], bool]


def _label_check(key: str, op: str, values: set[str]) -> _LabelCheck:
    def check(labels: dict[str, str]) -> bool:
        if op == "exists":
            return key in labels
        if op == "!exists":
            return key not in labels
        inside = labels.get(key) in values
        return inside if op in ("=", "in") else not inside

    return check


def parse_label_selector(text: str) -> Selector:
    """Parse a label selector.

    Args:
        text: e.g. ``app=iris,tier in (a,b),!canary``.

    Returns:
        A predicate over objects.

    Raises:
        ApiError: 400 when the selector does not parse.
    """
    checks: list[_LabelCheck] = []
    for requirement in _split(text or ""):
        eq = _EQ_RE.match(requirement)
        if eq:
            key, op, value = eq.groups()
            checks.append(_label_check(key, "!=" if op == "!=" else "=", {value}))
            continue
        match = _SET_RE.match(requirement)
        if not match:
            raise bad_request(f"unable to parse requirement: {requirement.strip()!r}")
        negated, key, op, values = match.groups()
        if op:
            members = {v.strip() for v in values.split(",") if v.strip()}
            checks.append(_label_check(key, op, members))
        else:
            checks.append(_label_check(key, "!exists" if negated else "exists", set()))

    def select(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return select


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_field_selector(text: str) -> Selector:
    """Parse a field selector.

    Args:
        text: e.g. ``metadata.name=iris,metadata.namespace!=kube-system``.

    Returns:
        A predicate over objects.

    Raises:
        ApiError: 400 when the selector does not parse.
    """
    checks: list[tuple[str, bool, str]] = []
    for requirement in _split(text or ""):
        for op in ("!=", "==", "="):
            if op in requirement:
                path, value = (part.strip() for part in requirement.split(op, 1))
                checks.append((path, op == "!=", value))
                break
        else:
            raise bad_request(f"invalid selector: {text!r}; can't understand {requirement!r}")

    def select(obj: dict[str, Any]) -> bool:
        return all((_field(obj, path) == value) != negate for path, negate, value in checks)

    return select
