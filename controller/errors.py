"""The controller's exception tree.

The store raises these for the API server's answers the reconcilers act on (404, 409), so reconcile
logic never sees a transport library's exceptions.
"""

from __future__ import annotations

__all__ = ["AlreadyExists", "BuildError", "Conflict", "ControllerError", "Gone", "NotFound", "StoreError"]


class ControllerError(Exception):
    """Base class of every error the controller raises."""


class StoreError(ControllerError):
    """The API server refused or failed a request.

    Args:
        message: what went wrong.
        status: the HTTP status code, when there was one.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(StoreError):
    """404: the object does not exist."""


class AlreadyExists(StoreError):
    """409 on create: an object of that name exists."""


class Conflict(StoreError):
    """409 on update: the object changed since it was read (stale ``resourceVersion``)."""


class Gone(StoreError):
    """410: a watch's ``resourceVersion`` is too old; list again."""


class BuildError(ControllerError):
    """An object cannot be built from a spec that passed validation (e.g. no runtime fits).

    Args:
        reason: a CamelCase condition reason, e.g. ``"NoSupportingRuntime"``.
        message: what the user should change.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
