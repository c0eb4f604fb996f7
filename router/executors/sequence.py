"""Sequence: steps one after another (KServe semantics).

- A step's input is the node's input, or the previous step's response with ``data: $response``
  (ignored on the first step).
- A step's ``condition`` is checked against the previous step's response: unmet, the node stops and
  answers that response with 200; on the first step (no response yet) or after a non-JSON response it
  fails with 500 ``invalid response``.
- A ``Hard`` step answering non-2xx stops the node with that step's status and body; a ``Soft`` one
  does not stop it.
- The node answers the last step's status and body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from zeroserve.router.context import RequestContext, StepResponse
from zeroserve.router.errors import RoutingFailure
from zeroserve.router.plan import Dependency, Node, StepInput

if TYPE_CHECKING:
    from zeroserve.router.executors.runner import GraphRunner

__all__ = ["SequenceExecutor"]


class SequenceExecutor:
    """Executes a Sequence node."""

    def __init__(self, node: Node, runner: GraphRunner) -> None:
        self.node = node
        self.runner = runner

    async def run(self, body: bytes, ctx: RequestContext) -> StepResponse:
        """Run the steps in order; see the module docstring for the rules."""
        response: StepResponse | None = None
        for step in self.node.steps:
            request = response.body if step.data is StepInput.RESPONSE and response is not None else body
            if step.condition is not None:
                previous = response.body if response is not None else b""
                try:
                    document = orjson.loads(previous)
                except orjson.JSONDecodeError:
                    raise RoutingFailure(500, "invalid response") from None
                if not step.condition.exists(document):
                    return StepResponse(200, previous)
            response = await self.runner.run_step(self.node, step, request, ctx)
            if step.dependency is Dependency.HARD and not response.ok:
                return response
        assert response is not None
        return response
