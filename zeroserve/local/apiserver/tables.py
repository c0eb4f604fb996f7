"""``meta.k8s.io/v1`` ``Table`` responses built from printer columns, as ``kubectl get`` asks for.

The first column is always ``Name``; the others come from the version's ``additionalPrinterColumns``.
``date`` cells are rendered as an age (``5m``), empty results as ``None`` (kubectl prints ``<none>``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from zeroserve.local.apiserver.jsonpath import JsonPath, JsonPathError
from zeroserve.local.apiserver.resources import ResourceVersionDef

__all__ = ["TABLE_MEDIA", "human_duration", "table_for", "wants_table"]

TABLE_MEDIA = "as=Table"


def wants_table(accept: str) -> bool:
    """Returns: whether an ``Accept`` header asks for ``meta.k8s.io`` Tables first."""
    first = accept.split(",")[0].replace(" ", "")
    return "as=Table" in first and "g=meta.k8s.io" in first


def human_duration(seconds: float) -> str:
    """Format an age the way kubectl does (``45s``, ``3m20s``, ``5h``, ``12d``).

    Args:
        seconds: the age.

    Returns:
        The short human form.
    """
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def _cell(column: dict[str, Any], path: JsonPath | None, obj: dict[str, Any], now: datetime) -> Any:
    if path is None:
        return None
    values = path.find(obj)
    if not values:
        return None
    kind = column.get("type", "string")
    if kind == "date":
        try:
            created = datetime.strptime(str(values[0]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return "<invalid>"
        return human_duration((now - created).total_seconds())
    if len(values) > 1 or isinstance(values[0], dict | list):
        return ",".join(v if isinstance(v, str) else str(v) for v in values)
    return values[0]


def _compile(columns: tuple[dict[str, Any], ...]) -> list[JsonPath | None]:
    compiled: list[JsonPath | None] = []
    for column in columns:
        try:
            compiled.append(JsonPath(column["jsonPath"]))
        except (JsonPathError, KeyError):
            compiled.append(None)
    return compiled


def table_for(
    version: ResourceVersionDef,
    objects: list[dict[str, Any]],
    *,
    include_object: str = "Metadata",
    headers: bool = True,
    now: datetime | None = None,
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Render objects as a ``Table``.

    Args:
        version: the served version whose printer columns apply.
        objects: the objects, one row each.
        include_object: ``Metadata`` (default, a ``PartialObjectMetadata`` per row), ``Object`` or ``None``.
        headers: include ``columnDefinitions`` (a watch sends them only with its first event).
        now: the time ages are measured to; the current time when omitted.
        list_meta: ``metadata`` of the Table (``resourceVersion``, ``continue``).

    Returns:
        The Table object.
    """
    now = now or datetime.now(UTC)
    columns = version.printer_columns
    paths = _compile(columns)
    definitions = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name of the resource",
            "priority": 0,
        }
    ]
    definitions += [
        {
            "name": c["name"],
            "type": "string" if c.get("type") == "date" else c.get("type", "string"),
            "format": c.get("format", ""),
            "description": c.get("description", ""),
            "priority": c.get("priority", 0),
        }
        for c in columns
    ]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {
            "cells": [obj["metadata"]["name"]]
            + [_cell(c, p, obj, now) for c, p in zip(columns, paths, strict=True)]
        }
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta or {},
        "columnDefinitions": definitions if headers else [],
        "rows": rows,
    }
