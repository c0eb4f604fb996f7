"""The one log format of every zeroserve process: JSON lines on stderr, or plain text for a terminal.

Each line is ``{"ts", "level", "logger", "msg", "request_id"?, "trace_id"?, ...extra}``: ``ts`` is
UTC ISO 8601 with milliseconds (``2026-12-04T23:38:06.123Z``), ``level`` upper case (``INFO``),
``logger`` the module's name (every module logs through ``logging.getLogger(__name__)``). The
request id lives in a ``ContextVar`` the data plane sets per request, so any line written while a
request is handled (a model's own too) carries it. ``trace_id`` is the current OpenTelemetry span's
trace id (32 hex digits, :func:`zeroserve.process.tracing.current_trace_id`) when tracing is on
and a span is current; else the trace id of the request's ``traceparent`` header, which the data
plane puts in :data:`TRACE_ID` per request (so lines carry the caller's trace id with tracing off
too); a ``trace_id`` given as ``extra`` wins over both.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import IO, Any, Literal

import orjson

from zeroserve.process import tracing

__all__ = [
    "TRACE_ID",
    "JsonFormatter",
    "PlainFormatter",
    "configure_logging",
    "new_request_id_var",
    "trace_id_of",
]

TRACE_ID: ContextVar[str | None] = ContextVar("zeroserve_trace_id", default=None)
"""The trace id of the request being handled (from its ``traceparent``), set by the data plane."""

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of msg
}


def new_request_id_var() -> ContextVar[str | None]:
    """A fresh context variable for the request id (one per server, no module global)."""
    return ContextVar("zeroserve_request_id", default=None)


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C ``traceparent`` value (``00-<32 hex>-<16 hex>-<2 hex>``), or ``None``.

    Args:
        traceparent: the header's value, if the request had one.

    Returns:
        The 32 lower-case hex digits, or ``None`` when absent, malformed or all zeros.
    """
    if traceparent is None or len(traceparent) < 55 or traceparent[2] != "-" or traceparent[35] != "-":
        return None
    trace_id = traceparent[3:35].lower()
    if trace_id == "0" * 32 or trace_id.strip("0123456789abcdef"):
        return None
    return trace_id


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object (see the module's docstring for the shape).

    Args:
        request_id: the context variable holding the current request id.
    """

    def __init__(self, request_id: ContextVar[str | None] | None = None) -> None:
        super().__init__()
        self._request_id = request_id

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The record as the dict that is written (``exc`` holds a traceback when there is one)."""
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid is None and self._request_id is not None:
            rid = self._request_id.get()
        if rid is not None:
            entry["request_id"] = rid
        tid = getattr(record, "trace_id", None) or tracing.current_trace_id() or TRACE_ID.get()
        if tid is not None:
            entry["trace_id"] = tid
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return entry

    def format(self, record: logging.LogRecord) -> str:
        return orjson.dumps(self.fields(record), default=str).decode()


class PlainFormatter(JsonFormatter):
    """The same fields as one readable line: ``ts LEVEL logger: msg key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = self.fields(record)
        head = f"{entry.pop('ts')} {entry.pop('level'):<7} {entry.pop('logger')}: {entry.pop('msg')}"
        exc = entry.pop("exc", None)
        tail = " ".join(f"{key}={value}" for key, value in entry.items())
        line = f"{head} {tail}" if tail else head
        return f"{line}\n{exc}" if exc else line


def configure_logging(
    level: str = "INFO",
    request_id: ContextVar[str | None] | None = None,
    stream: IO[str] | None = None,
    *,
    style: Literal["json", "plain"] = "json",
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) in the one format; replaces the root's handlers.

    uvicorn's loggers lose their own handlers and propagate to the root, so their lines share it.

    Args:
        level: the root level (any case).
        request_id: the server's request id variable.
        stream: where to write; stderr by default.
        style: ``json`` (default) or ``plain`` for a person at a terminal.

    Returns:
        The installed handler.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = PlainFormatter(request_id) if style == "plain" else JsonFormatter(request_id)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler
