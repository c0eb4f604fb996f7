"""Switch: the first step whose GJSON ``condition`` exists in the node's input runs (KServe).

No match (or an input that is not JSON) fails with 404 and KServe's cause
``None of the routes matched with the switch condition``. The chosen step's status and body are the
node's, whatever its dependency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from zeroserve.router.context import RequestContext, StepResponse
from zeroserve.router.errors import RoutingFailure
from zeroserve.router.plan import Node

if TYPE_CHECKING:
    from zeroserve.router.executors.runner import GraphRunner

__all__ = ["NO_MATCH_CAUSE", "SwitchExecutor"]

NO_MATCH_CAUSE = "None of the routes matched with the switch condition"


class SwitchExecutor:
    """Executes a Switch node."""

    def __init__(self, node: Node, runner: GraphRunner) -> None:
        self.node = node
        self.runner = runner

    async def run(self, body: bytes, ctx: RequestContext) -> StepResponse:
        """Route to the first step whose condition matches the input."""
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise RoutingFailure(404, NO_MATCH_CAUSE) from None
        for step in self.node.steps:
            if step.condition is not None and step.condition.exists(document):
                return await self.runner.run_step(self.node, step, body, ctx)
        raise RoutingFailure(404, NO_MATCH_CAUSE)
