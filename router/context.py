"""Per-request state shared by the executors of one graph request."""

from __future__ import annotations

from dataclasses import dataclass, field

from zeroserve.router.errors import RoutingFailure
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

    def call_timeout(self, timeout: float | None, now: float) -> tuple[float | None, bool]:
        """The time one step call may take: its own ``timeout`` or what is left of the graph's.

        Args:
            timeout: the step client's limit per call, ``None`` for none.
            now: the event loop's time.

        Returns:
            ``(seconds or None, whether the graph's deadline is what limits it)``.

        Raises:
            RoutingFailure: 504 when the graph's deadline has passed already.
        """
        if self.deadline is None:
            return timeout, False
        left = self.deadline - now
        if left <= 0:
            raise RoutingFailure(504, "the graph's timeout was exceeded")
        if timeout is None or left < timeout:
            return left, True
        return timeout, False
