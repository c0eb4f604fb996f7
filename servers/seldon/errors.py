"""Seldon's error answer: ``{"status": {"code", "info", "reason", "status": "FAILURE"}}``.

A malformed message is a :class:`SeldonError` with status 400 (``MICROSERVICE_BAD_DATA``); a user
hook that raises becomes a 500 (``MICROSERVICE_INTERNAL_ERROR``) whose ``info`` is the hook's own
message, never a traceback or an exception class name. A user exception that carries Seldon's
``status_code`` / ``message`` / ``reason`` attributes (``SeldonMicroserviceException``) keeps them.
"""

from __future__ import annotations

import logging
from typing import Any

from zeroserve.servers.errors import ServingError, status_of

__all__ = ["BAD_DATA", "INTERNAL", "SeldonError", "error_doc", "from_exception", "user_failure"]

_log = logging.getLogger(__name__)

BAD_DATA = "MICROSERVICE_BAD_DATA"
INTERNAL = "MICROSERVICE_INTERNAL_ERROR"
_GRPC_CODES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE"}


class SeldonError(ServingError):
    """An answer in Seldon's error shape.

    Args:
        info: what was wrong and where (``status.info``).
        status_code: the HTTP status (also ``status.code``).
        reason: Seldon's reason constant (``status.reason``).
    """

    def __init__(self, info: str, status_code: int = 400, reason: str = BAD_DATA) -> None:
        super().__init__(info)
        self.status_code = status_code
        self.grpc_code = _GRPC_CODES.get(status_code, "INTERNAL")
        self.seldon_reason = reason


def error_doc(status_code: int, info: str, reason: str) -> dict[str, Any]:
    """The JSON body of a Seldon failure."""
    return {"status": {"code": status_code, "info": info, "reason": reason, "status": "FAILURE"}}


def user_failure(hook: str, exc: BaseException) -> SeldonError:
    """Turn an exception raised by the user's ``hook`` into the error it answers with."""
    if isinstance(exc, SeldonError):
        return exc
    code = getattr(exc, "status_code", None)
    message = getattr(exc, "message", None)
    if isinstance(code, int) and 400 <= code < 600 and isinstance(message, str):
        reason = getattr(exc, "reason", None)
        return SeldonError(message, code, reason if isinstance(reason, str) else BAD_DATA)
    if isinstance(exc, ServingError):
        status, _, text = status_of(exc)
        return SeldonError(text, status, BAD_DATA if status < 500 else INTERNAL)
    _log.error("the component's %s failed", hook, exc_info=exc)
    detail = str(exc).strip() or "no message"
    return SeldonError(f"the component's {hook} failed: {detail}", 500, INTERNAL)


def from_exception(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """The HTTP status and Seldon error body for any exception reaching a transport."""
    if isinstance(exc, SeldonError):
        return exc.status_code, error_doc(exc.status_code, exc.reason, exc.seldon_reason)
    status, _, message = status_of(exc)
    if status >= 500 and not isinstance(exc, ServingError):
        _log.error("Seldon request failed", exc_info=exc)
        message = "internal error"
    return status, error_doc(status, message, BAD_DATA if status < 500 else INTERNAL)
