"""Per-request state shared by the executors of one graph request."""

from __future__ import annotations

from dataclasses import dataclass, field

from zeroserve.router.plan import Step

__all__ = ["RequestContext", "StepResponse"]


@dataclass(frozen=True, slots=True)
class StepResponse:
    """A step's or node's answer: status code and raw body (never parsed unless needed)."""

    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        """KServe's ``isSuccessFul``: a 2xx status."""
        return 200 <= self.status <= 299


@dataclass(slots=True)
class RequestContext:
    """What every step call of one request shares.

    Attributes:
        request_id: the ``x-request-id`` (incoming or generated), sent to every step.
        headers: the headers every step call carries (propagated, trace context, request id).
        deadline: the event-loop time by which the whole graph must answer, or ``None``.
        routing: the bandit decisions taken for this request, node name -> chosen step.
    """

    request_id: str
    headers: list[tuple[str, str]]
    deadline: float | None = None
    routing: dict[str, Step] = field(default_factory=dict)
