"""The router's exception tree.

``RouterError``
  ``GraphPlanError``: the graph spec cannot be planned; carries every issue with its field path.
  ``RoutingFailure``: a request could not be routed; rendered as KServe's error body
  ``{"error": "Failed to process request", "cause": ...}`` with its status code.
  ``FeedbackError``: a ``POST /feedback`` that cannot be applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FeedbackError", "GraphPlanError", "PlanIssue", "RouterError", "RoutingFailure"]

ERROR_MESSAGE = "Failed to process request"
"""KServe's ``error`` field of every routing error body."""


class RouterError(Exception):
    """Base of every error the router raises on purpose."""


@dataclass(frozen=True, slots=True)
class PlanIssue:
    """One problem found while planning a graph: where (a field path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class GraphPlanError(RouterError, ValueError):
    """The graph spec is invalid; ``issues`` lists every problem, each with its field path."""

    def __init__(self, issues: Sequence[PlanIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("invalid InferenceGraph: " + "; ".join(str(i) for i in self.issues))


class RoutingFailure(RouterError):
    """A request failed inside the router (transport error, timeout, no Switch match, ...).

    Args:
        status: the HTTP status code the graph answers with.
        cause: the human-readable cause, KServe's ``cause`` field.
    """

    def __init__(self, status: int, cause: str) -> None:
        super().__init__(cause)
        self.status = status
        self.cause = cause


class FeedbackError(RouterError):
    """A feedback request that cannot be applied (bad body, unknown request id, no bandit)."""

    def __init__(self, status: int, cause: str) -> None:
        super().__init__(cause)
        self.status = status
        self.cause = cause
