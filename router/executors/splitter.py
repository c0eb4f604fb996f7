"""Splitter: one step picked at random by weight (KServe).

A number is drawn uniformly from [0, 100) and compared with the cumulative weights, which the
planner guarantees sum to 100. (KServe draws from [0, 100], so one request in 101 finds no step and
fails; that bug is not reproduced.)
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from zeroserve.router.context import RequestContext, StepResponse
from zeroserve.router.plan import Node, Step

if TYPE_CHECKING:
    from zeroserve.router.executors.runner import GraphRunner

__all__ = ["SplitterExecutor", "pick_by_weight"]


def pick_by_weight(steps: tuple[Step, ...], point: int) -> Step:
    """The step whose cumulative-weight interval holds ``point``.

    Args:
        steps: the Splitter's steps (weights summing to 100).
        point: an integer in [0, 100).

    Returns:
        The chosen step.
    """
    end = 0
    for step in steps:
        end += step.weight or 0
        if point < end:
            return step
    raise ValueError(f"no step for point {point}: weights sum to {end}")


class SplitterExecutor:
    """Executes a Splitter node.

    Args:
        node: the node.
        runner: the graph runner.
        rng: the random source (seeded in tests).
    """

    def __init__(self, node: Node, runner: GraphRunner, rng: random.Random) -> None:
        self.node = node
        self.runner = runner
        self.rng = rng

    async def run(self, body: bytes, ctx: RequestContext) -> StepResponse:
        """Route the input to a step chosen by weight."""
        step = pick_by_weight(self.node.steps, self.rng.randrange(100))
        return await self.runner.run_step(self.node, step, body, ctx)
