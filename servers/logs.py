"""Structured JSON logs (one object per line on stderr) carrying the current request id.

The request id lives in a ``ContextVar`` set by the transports, so any log line written while a
request is handled (including a model's own) carries ``request_id``.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import IO, Any

import orjson

__all__ = ["JsonFormatter", "configure_logging", "new_request_id_var"]

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of msg
}


def new_request_id_var() -> ContextVar[str | None]:
    """A fresh context variable for the request id (one per server, no module global)."""
    return ContextVar("zeroserve_request_id", default=None)


class JsonFormatter(logging.Formatter):
    """Formats a record as ``{"ts", "level", "logger", "msg", "request_id"?, ...extra}``.

    Args:
        request_id: the context variable holding the current request id.
    """

    def __init__(self, request_id: ContextVar[str | None] | None = None) -> None:
        super().__init__()
        self._request_id = request_id

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid is None and self._request_id is not None:
            rid = self._request_id.get()
        if rid is not None:
            entry["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(
    level: str = "INFO", request_id: ContextVar[str | None] | None = None, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) as JSON lines; replaces the root's handlers.

    Args:
        level: the root level.
        request_id: the server's request id variable.
        stream: where to write; stderr by default.

    Returns:
        The installed handler.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(request_id))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler
