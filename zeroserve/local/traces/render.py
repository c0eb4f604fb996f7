"""Text views of traces: a trace as an indented tree with timings, and a table of recent traces."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

__all__ = ["render_list", "render_tree"]

_SHOWN = (
    "zeroserve.revision",
    "zeroserve.model",
    "zeroserve.cold_start",
    "http.response.status_code",
    "cloudevents.event_type",
    "messaging.destination.name",
)


def render_tree(spans: Sequence[dict[str, Any]]) -> str:
    """A trace as a tree: each span's offset from the trace's start, its duration, service and name.

    Args:
        spans: the trace's spans as the receiver serves them (``span_id``, ``parent_id``,
            ``start_ns``, ``end_ns``, ``name``, ``service``, ``attributes``).

    Returns:
        One line per span, children indented under their parent, siblings by start time; a span
        whose parent never arrived is shown at the top level.
    """
    if not spans:
        return "(no spans)"
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for s in sorted(spans, key=lambda s: s["start_ns"]):
        if s["parent_id"] and s["parent_id"] in ids:
            children.setdefault(s["parent_id"], []).append(s)
        else:
            roots.append(s)
    start = min(s["start_ns"] for s in spans)
    end = max(s["end_ns"] for s in spans)
    lines = [f"trace {spans[0]['trace_id']}  {len(spans)} spans  {(end - start) / 1e6:.2f} ms"]

    def walk(s: dict[str, Any], depth: int) -> None:
        offset = (s["start_ns"] - start) / 1e6
        duration = (s["end_ns"] - s["start_ns"]) / 1e6
        attrs = s.get("attributes") or {}
        extra = " ".join(f"{k}={attrs[k]}" for k in _SHOWN if k in attrs)
        error = " ERROR" if s.get("status") == "error" else ""
        name = f"{'  ' * depth}{s['name']}"
        lines.append(
            f"{offset:9.2f} ms {duration:9.2f} ms  {name:<48} [{s['service']}]{error}"
            + (f"  {extra}" if extra else "")
        )
        for child in children.get(s["span_id"], []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "\n".join(lines)


def render_list(summaries: Sequence[dict[str, Any]]) -> str:
    """Recent traces, newest first: id, start time, spans, duration, root span and its service."""
    if not summaries:
        return "no traces yet"
    lines = [f"{'TRACE ID':<32}  {'STARTED (UTC)':<12}  {'SPANS':>5}  {'DURATION':>11}  ROOT"]
    for t in summaries:
        started = time.strftime("%H:%M:%S", time.gmtime(t["start_ns"] / 1e9))
        lines.append(
            f"{t['trace_id']:<32}  {started:<12}  {t['spans']:>5}  {t['duration_ms']:>8.2f} ms  "
            f"{t['root']} [{t['service']}]"
        )
    return "\n".join(lines)
