"""Ensemble: every step in parallel on the node's input; the answers merged by step key (KServe).

The result is ``{"<step name, or index>": <step JSON>, ...}`` with 200. The first ``Hard`` step in
step order that answers non-2xx decides the node's answer instead (its status and body).

Where KServe fails the whole node with 500, a ``Soft`` step that cannot be called (transport error,
timeout) or answers a body that is not JSON is embedded as KServe's error object
``{"error": "Failed to process request", "cause": ...}`` under its key; a JSON answer that is not an
object (an array, say) is embedded as it is. Soft means the node survives the step.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson

from zeroserve.router.context import RequestContext, StepResponse
from zeroserve.router.errors import ERROR_MESSAGE, RoutingFailure
from zeroserve.router.plan import Dependency, Node

if TYPE_CHECKING:
    from zeroserve.router.executors.runner import GraphRunner

__all__ = ["EnsembleExecutor"]


class EnsembleExecutor:
    """Executes an Ensemble node."""

    def __init__(self, node: Node, runner: GraphRunner) -> None:
        self.node = node
        self.runner = runner

    async def run(self, body: bytes, ctx: RequestContext) -> StepResponse:
        """Run every step concurrently and merge the answers."""
        outcomes = await asyncio.gather(
            *(self.runner.run_step(self.node, step, body, ctx) for step in self.node.steps),
            return_exceptions=True,
        )
        merged: dict[str, Any] = {}
        for step, outcome in zip(self.node.steps, outcomes, strict=True):
            hard = step.dependency is Dependency.HARD
            if isinstance(outcome, RoutingFailure):
                if hard:
                    raise outcome
                merged[step.key] = {"error": ERROR_MESSAGE, "cause": outcome.cause}
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            if hard and not outcome.ok:
                return outcome
            try:
                merged[step.key] = orjson.loads(outcome.body)
            except orjson.JSONDecodeError:
                cause = f"step {step.key!r} answered {outcome.status} with a body that is not JSON"
                if hard:
                    raise RoutingFailure(500, cause) from None
                merged[step.key] = {"error": ERROR_MESSAGE, "cause": cause}
        return StepResponse(200, orjson.dumps(merged))
