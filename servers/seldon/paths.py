"""Seldon's REST paths and the operation each one runs (imported by the REST router, so kept light).

From Seldon's wrapper (``wrapper.oas3.json``): ``/predict`` and ``/api/v1.0/predictions`` (also
``/api/v0.1/predictions``), ``/send-feedback`` and ``/api/v1.0/feedback``, ``/route``,
``/aggregate``, ``/transform-input``, ``/transform-output`` (each also under ``/api/v1.0/``), on
POST and on GET with a ``json=`` query; ``/health/ping``, ``/health/status``, ``/metadata`` and
``/api/v1.0/metadata``, ``/seldon.json`` on GET.
"""

from __future__ import annotations

__all__ = ["ENDPOINTS"]

_OPS = {
    "predict": ("/predict", "/api/v1.0/predictions", "/api/v0.1/predictions"),
    "send_feedback": ("/send-feedback", "/api/v1.0/feedback", "/api/v0.1/feedback"),
    "route": ("/route", "/api/v1.0/route"),
    "aggregate": ("/aggregate", "/api/v1.0/aggregate"),
    "transform_input": ("/transform-input", "/api/v1.0/transform-input"),
    "transform_output": ("/transform-output", "/api/v1.0/transform-output"),
}
_READS = {
    "health_ping": ("/health/ping", "/api/v1.0/health/ping"),
    "health_status": ("/health/status", "/api/v1.0/health/status"),
    "metadata": ("/metadata", "/api/v1.0/metadata"),
    "openapi": ("/seldon.json",),
}


def _table() -> dict[tuple[str, str], str]:
    table: dict[tuple[str, str], str] = {}
    for op, paths in _OPS.items():
        for path in paths:
            table[("POST", path)] = op
            table[("GET", path)] = op
    for op, paths in _READS.items():
        for path in paths:
            table[("GET", path)] = op
    return table


ENDPOINTS: dict[tuple[str, str], str] = _table()
"""``(method, path) -> operation`` for every Seldon path."""
