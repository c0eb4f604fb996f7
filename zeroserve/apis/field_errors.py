"""Validation errors with field paths, in the manner of knative's ``apis.FieldError``.

Every ``validate_*`` function in :mod:`zeroserve.apis` returns a list of :class:`FieldError`, one per
broken rule, never stopping at the first; ``str(error)`` reads ``spec.predictor.minReplicas: must be
<= maxReplicas``. :func:`from_pydantic` turns a ``pydantic.ValidationError`` raised while parsing into
the same shape, so callers (the controller, the API server's admission step) report both alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

__all__ = ["FieldError", "InvalidObjectError", "from_pydantic", "join_path"]


@dataclass(frozen=True)
class FieldError:
    """One broken rule: the path of the offending field and what is wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidObjectError(ValueError):
    """Raised by callers that want an exception instead of a list of errors."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


def join_path(*parts: str | int) -> str:
    """Join path segments: names with dots, list indexes and map keys in brackets.

    Args:
        *parts: e.g. ``("spec", "nodes", "root", "steps", 0, "name")``; a segment that is already a
            path (``"spec.predictor"``) is kept as it is. Map keys are passed as ``"[key]"``.

    Returns:
        e.g. ``"spec.nodes.root.steps[0].name"``.
    """
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith("["):
            path += part
        elif part:
            path = f"{path}.{part}" if path else part
    return path


def from_pydantic(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """Convert a pydantic parsing error into field errors with wire (camelCase) paths.

    Args:
        error: The error raised by ``Model.model_validate``.
        prefix: A path to put in front, e.g. ``"spec"``.

    Returns:
        One :class:`FieldError` per pydantic error.
    """
    errors: list[FieldError] = []
    for item in error.errors():
        parts: list[str | int] = [prefix] if prefix else []
        for loc in item["loc"]:
            parts.append(loc if isinstance(loc, int) else str(loc))
        errors.append(FieldError(join_path(*parts), item["msg"]))
    return errors
