"""Bandit: a Splitter node whose step is chosen by a learning policy instead of fixed weights.

The choice is recorded in the request context; the app reports it to the client (a response
header and the body's ``meta.routing``) and remembers it by request id for ``POST /feedback``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zeroserve.router.context import RequestContext, StepResponse
from zeroserve.router.plan import Node

if TYPE_CHECKING:
    from zeroserve.router.executors.runner import ArmChooser, GraphRunner

__all__ = ["BanditExecutor"]


class BanditExecutor:
    """Executes a bandit node.

    Args:
        node: the node (a Splitter with a bandit config).
        runner: the graph runner.
        bandits: the policies' state, which picks the step.
    """

    def __init__(self, node: Node, runner: GraphRunner, bandits: ArmChooser) -> None:
        self.node = node
        self.runner = runner
        self.bandits = bandits

    async def run(self, body: bytes, ctx: RequestContext) -> StepResponse:
        """Route the input to the step the policy picks and record the decision."""
        step = self.bandits.choose(self.node)
        ctx.routing[self.node.name] = step
        return await self.runner.run_step(self.node, step, body, ctx)
