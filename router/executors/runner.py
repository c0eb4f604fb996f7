"""The graph runner: runs nodes by name, calls steps (services or nested nodes), records metrics."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from typing import Protocol

import orjson

from zeroserve.process import tracing
from zeroserve.router.client import StepCaller
from zeroserve.router.context import RequestContext, StepResponse
from zeroserve.router.errors import RoutingFailure
from zeroserve.router.executors.bandit import BanditExecutor
from zeroserve.router.executors.ensemble import EnsembleExecutor
from zeroserve.router.executors.sequence import SequenceExecutor
from zeroserve.router.executors.splitter import SplitterExecutor
from zeroserve.router.executors.switch import SwitchExecutor
from zeroserve.router.metrics import RouterMetrics
from zeroserve.router.plan import ExecutableGraph, Node, RouterType, Step

__all__ = ["GraphRunner", "NodeExecutor", "map_predictions_to_instances"]


class NodeExecutor(Protocol):
    """Runs one node of the graph on an input body."""

    async def run(self, body: bytes, ctx: RequestContext) -> StepResponse:
        """Execute the node.

        Args:
            body: the node's input.
            ctx: the request's context.

        Returns:
            The node's status code and body.

        Raises:
            RoutingFailure: the node failed in a way KServe renders as ``{"error", "cause"}``.
        """
        ...


class ArmChooser(Protocol):
    """Picks a step of a bandit node (implemented by :class:`zeroserve.router.bandit.Bandits`)."""

    def choose(self, node: Node) -> Step:
        """Pick the step to route to."""
        ...


def map_predictions_to_instances(body: bytes) -> bytes:
    """KServe's ``mapPredictionsToInstances``: ``{"predictions": P, ...}`` -> ``{"instances": P}``.

    Args:
        body: a step input.

    Returns:
        The renamed body, or ``body`` unchanged when it has no non-empty ``predictions``.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if isinstance(document, dict) and document.get("predictions"):
        return orjson.dumps({"instances": document["predictions"]})
    return body


class GraphRunner:
    """Builds an executor for every node of a graph and runs them.

    Args:
        graph: the executable graph.
        client: calls service steps.
        metrics: where node and step metrics go.
        rng: the Splitter's random source (seed it for reproducible splits).
        bandits: picks steps for bandit nodes; required when the graph has any.
        clock: a monotonic clock for latency metrics.
    """

    def __init__(
        self,
        graph: ExecutableGraph,
        client: StepCaller,
        metrics: RouterMetrics,
        *,
        rng: random.Random,
        bandits: ArmChooser | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.graph = graph
        self.client = client
        self.metrics = metrics
        self.clock = clock
        self.executors: dict[str, NodeExecutor] = {}
        for name, node in graph.nodes.items():
            executor: NodeExecutor
            if node.bandit is not None:
                if bandits is None:
                    raise ValueError(f"node {name!r} is a bandit but no bandit state was given")
                executor = BanditExecutor(node, self, bandits)
            elif node.router_type is RouterType.SEQUENCE:
                executor = SequenceExecutor(node, self)
            elif node.router_type is RouterType.SWITCH:
                executor = SwitchExecutor(node, self)
            elif node.router_type is RouterType.ENSEMBLE:
                executor = EnsembleExecutor(node, self)
            else:
                executor = SplitterExecutor(node, self, rng)
            self.executors[name] = executor

    async def run_node(self, name: str, body: bytes, ctx: RequestContext) -> StepResponse:
        """Run node ``name`` on ``body``, recording its count and latency.

        Args:
            name: the node's name.
            body: its input.
            ctx: the request's context.

        Returns:
            The node's answer.

        Raises:
            RoutingFailure: from the node.
        """
        started = self.clock()
        code = "500"
        try:
            response = await self.executors[name].run(body, ctx)
            code = str(response.status)
            return response
        except RoutingFailure as failure:
            code = str(failure.status)
            raise
        finally:
            self.metrics.node_requests.labels(name, code).inc()
            self.metrics.node_latency.labels(name).observe(self.clock() - started)

    async def _traced_post(self, node: Node, step: Step, body: bytes, ctx: RequestContext) -> StepResponse:
        """A service step in a client span; the service continues it (its ``traceparent``)."""
        assert step.url is not None
        attributes = {
            "http.request.method": "POST",
            "url.full": step.url,
            "zeroserve.graph.node": node.name,
            "zeroserve.graph.step": step.key,
        }
        with tracing.span(f"graph step {node.name}/{step.key}", kind="client", attributes=attributes) as span:
            carrier: dict[str, str] = {}
            tracing.inject(carrier)
            headers = [(k, v) for k, v in ctx.headers if k.lower() not in ("traceparent", "tracestate")]
            headers += [(k.capitalize(), v) for k, v in carrier.items()]
            response = await self.client.post(step.url, body, dataclasses.replace(ctx, headers=headers))
            if span is not None:
                span.set_attribute("http.response.status_code", response.status)
            return response

    async def run_step(self, node: Node, step: Step, body: bytes, ctx: RequestContext) -> StepResponse:
        """Call one step (a service or a nested node), recording its count, latency and errors.

        Args:
            node: the node the step belongs to.
            step: the step.
            body: the step's input, before ``mapPredictionsToInstances``.
            ctx: the request's context.

        Returns:
            The step's answer, whatever its status.

        Raises:
            RoutingFailure: a transport error, a timeout, or a failure inside a nested node.
        """
        if step.map_predictions_to_instances:
            body = map_predictions_to_instances(body)
        started = self.clock()
        code, reason = "500", "transport"
        try:
            if step.node is not None:
                response = await self.run_node(step.node, body, ctx)
            else:
                assert step.url is not None
                if tracing.on:
                    response = await self._traced_post(node, step, body, ctx)
                else:
                    response = await self.client.post(step.url, body, ctx)
            code, reason = str(response.status), "" if response.ok else "status"
            return response
        except RoutingFailure as failure:
            code = str(failure.status)
            reason = "timeout" if failure.status == 504 else "transport"
            raise
        finally:
            self.metrics.step_requests.labels(node.name, step.key, code).inc()
            self.metrics.step_latency.labels(node.name, step.key).observe(self.clock() - started)
            if reason:
                self.metrics.step_errors.labels(node.name, step.key, reason).inc()
