"""API errors and their wire form, ``metav1.Status``.

Every failure the API server reports is an :class:`ApiError`; handlers raise it and the ASGI layer turns
it into a ``Status`` object with the HTTP code, ``reason`` and ``details`` that Kubernetes clients parse
(kubectl prints ``Error from server (<reason>): <message>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApiError",
    "FieldError",
    "already_exists",
    "bad_request",
    "conflict",
    "forbidden",
    "gone",
    "invalid",
    "method_not_allowed",
    "not_found",
    "status_object",
    "unauthorized",
    "unsupported_media_type",
]


@dataclass(frozen=True)
class FieldError:
    """One invalid field, as a ``StatusCause``."""

    type: str
    """The cause's reason, e.g. ``FieldValueRequired`` or ``FieldValueInvalid``."""
    field: str
    """Dotted path of the field, e.g. ``spec.predictor.minReplicas``."""
    detail: str
    """The human message, e.g. ``Required value`` or ``Invalid value: "x": must be of type integer``."""

    def message(self) -> str:
        """Returns: the cause as Kubernetes prints it, ``<field>: <detail>``."""
        return f"{self.field}: {self.detail}" if self.field else self.detail


@dataclass
class ApiError(Exception):
    """A failed request, rendered as ``metav1.Status``."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def to_status(self) -> dict[str, Any]:
        """Returns: the error as a ``metav1.Status`` object."""
        return status_object(self.code, self.reason, self.message, self.details)


def status_object(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build a ``metav1.Status``.

    Args:
        code: the HTTP status code.
        reason: a ``StatusReason`` (``NotFound``, ``Conflict`` ...); empty for success.
        message: the human-readable description.
        details: ``StatusDetails`` (name, group, kind, causes), omitted when empty.

    Returns:
        The Status object, ready to serialise.
    """
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        status["details"] = details
    if not reason:
        del status["reason"]
    return status


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    """Returns: ``404 NotFound`` for ``<resource>.<group> "<name>"``."""
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        {"name": name, "group": group, "kind": resource},
    )


def already_exists(resource: str, group: str, name: str) -> ApiError:
    """Returns: ``409 AlreadyExists``."""
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        {"name": name, "group": group, "kind": resource},
    )


def conflict(resource: str, group: str, name: str, why: str) -> ApiError:
    """Returns: ``409 Conflict`` (a stale ``resourceVersion``, as Kubernetes words it)."""
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        {"name": name, "group": group, "kind": resource},
    )


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    """Build ``422 Invalid`` with one cause per field error.

    Args:
        kind: the object's kind, e.g. ``InferenceService``.
        group: its API group (empty for the core group).
        name: the object's name.
        errors: every field error found.

    Returns:
        The error; its message lists the causes as ``[a, b]`` when there are several.
    """
    messages = [e.message() for e in errors]
    summary = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{_qualified(kind, group)} "{name}" is invalid: {summary}',
        {
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [{"reason": e.type, "message": e.detail, "field": e.field} for e in errors],
        },
    )


def bad_request(message: str) -> ApiError:
    """Returns: ``400 BadRequest``."""
    return ApiError(400, "BadRequest", message)


def forbidden(message: str) -> ApiError:
    """Returns: ``403 Forbidden``."""
    return ApiError(403, "Forbidden", message)


def unauthorized() -> ApiError:
    """Returns: ``401 Unauthorized``."""
    return ApiError(401, "Unauthorized", "Unauthorized")


def method_not_allowed(verb: str, resource: str) -> ApiError:
    """Returns: ``405 MethodNotAllowed``."""
    return ApiError(405, "MethodNotAllowed", f"{verb} is not supported on {resource}")


def gone(message: str) -> ApiError:
    """Returns: ``410 Gone`` (a watch or list from a compacted ``resourceVersion``)."""
    return ApiError(410, "Expired", message)


def unsupported_media_type(content_type: str) -> ApiError:
    """Returns: ``415 UnsupportedMediaType``."""
    return ApiError(
        415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}"
    )
