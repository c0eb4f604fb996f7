"""The router's bandits: pick steps, remember decisions, learn from ``POST /feedback``.

Feedback reaches the router that routed the request in either of two ways (unlike Seldon Core, whose
routers never received feedback before #2827, or received it on whichever replica the feedback hit,
#1823):

- by **request id**: the router remembers each routed request's decisions (the latest
  ``max_decisions``, in memory) under its ``x-request-id``; feedback ``{"requestId": ..., "reward": r}``
  applies once;
- by **embedded routing**: the response carried ``meta.routing`` (node -> step index); feedback that
  sends it back (``{"routing": {...}, "reward": r}``, or Seldon's ``{"response": {"meta": {"routing":
  {...}}}, "reward": r}``) is applied by any replica, after a restart too.

The arms' statistics are saved to the :class:`~zeroserve.router.bandit.store.BanditStore` after every
applied feedback, so learning survives a restart.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from zeroserve.router.bandit.policy import ArmStats, EpsilonGreedy, ThompsonSampling, make_policy
from zeroserve.router.bandit.store import BanditStore
from zeroserve.router.errors import FeedbackError
from zeroserve.router.metrics import RouterMetrics
from zeroserve.router.plan import ExecutableGraph, Node, Step

__all__ = ["Bandits", "Feedback"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Feedback:
    """A parsed feedback request: a reward for the decisions of one routed request."""

    reward: float
    request_id: str | None = None
    routing: Mapping[str, int | str] = field(default_factory=dict)
    """node -> step index or step key; empty when the decisions are looked up by request id."""

    @classmethod
    def parse(cls, body: bytes) -> Feedback:
        """Parse a ``POST /feedback`` body.

        Args:
            body: ``{"reward": r, "requestId": id}``, ``{"reward": r, "routing": {node: step}}`` or
                Seldon's ``{"reward": r, "response": {"meta": {"routing": {node: index}}}}``.

        Returns:
            The feedback.

        Raises:
            FeedbackError: 400 when the body is not such an object.
        """
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise FeedbackError(400, f"feedback is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise FeedbackError(400, "feedback must be a JSON object")
        reward = document.get("reward")
        if isinstance(reward, bool) or not isinstance(reward, int | float) or not 0 <= reward <= 1:
            raise FeedbackError(400, f"reward must be a number between 0 and 1, got {reward!r}")
        request_id = document.get("requestId", document.get("request_id"))
        if request_id is not None and not isinstance(request_id, str):
            raise FeedbackError(400, "requestId must be a string")
        routing = document.get("routing")
        if routing is None:
            response = document.get("response")
            meta = response.get("meta") if isinstance(response, dict) else None
            routing = meta.get("routing") if isinstance(meta, dict) else None
        if routing is not None and (
            not isinstance(routing, dict)
            or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in routing.values())
        ):
            raise FeedbackError(400, "routing must map node names to a step index or name")
        if not routing and request_id is None:
            raise FeedbackError(400, "feedback needs a requestId or the response's routing")
        return cls(reward=float(reward), request_id=request_id, routing=routing or {})


class Bandits:
    """The bandit nodes of one graph and what they learned.

    Args:
        graph: the executable graph (its nodes with a ``bandit`` config are managed here).
        metrics: where choices and rewards are counted.
        store: where the state is persisted; ``None`` keeps it in memory only.
        rng_factory: builds each node's random source from its seed (``None``: from the OS).
        max_decisions: how many routed requests' decisions are remembered for feedback by id.
    """

    def __init__(
        self,
        graph: ExecutableGraph,
        metrics: RouterMetrics,
        *,
        store: BanditStore | None = None,
        rng_factory: Callable[[int | None], random.Random] = random.Random,
        max_decisions: int = 100_000,
    ) -> None:
        self.graph = graph
        self.metrics = metrics
        self.store = store
        self.max_decisions = max_decisions
        self.policies: dict[str, EpsilonGreedy | ThompsonSampling] = {}
        self.decisions: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._save_lock = asyncio.Lock()
        saved = store.load() if store is not None else {}
        for name, node in graph.nodes.items():
            if node.bandit is None:
                continue
            known = saved.get(name, {})
            arms = [known.get(s.key) or ArmStats(step=s.key) for s in node.steps]
            self.policies[name] = make_policy(node, node.bandit, arms, rng_factory(node.bandit.seed))

    def __bool__(self) -> bool:
        return bool(self.policies)

    def choose(self, node: Node) -> Step:
        """Pick the step a bandit node routes the current request to.

        Args:
            node: a node with a bandit config.

        Returns:
            The chosen step.
        """
        policy = self.policies[node.name]
        index = policy.choose()
        policy.arms[index].routed += 1
        step = node.steps[index]
        self.metrics.bandit_choices.labels(node.name, step.key).inc()
        return step

    def remember(self, request_id: str, routing: Mapping[str, Step]) -> None:
        """Keep a request's decisions for feedback by request id (oldest forgotten first).

        Args:
            request_id: the request's ``x-request-id``.
            routing: node -> chosen step.
        """
        self.decisions[request_id] = {node: step.index for node, step in routing.items()}
        self.decisions.move_to_end(request_id)
        while len(self.decisions) > self.max_decisions:
            self.decisions.popitem(last=False)

    def resolve(self, feedback: Feedback) -> dict[str, Step]:
        """The steps a feedback rewards, node -> step; a request id's decisions are used up.

        Args:
            feedback: the parsed feedback.

        Returns:
            The bandit steps to reward.

        Raises:
            FeedbackError: 404 when nothing known matches; 400 for a step that does not exist.
        """
        routing: Mapping[str, int | str] = feedback.routing
        if not routing and feedback.request_id is not None:
            found = self.decisions.pop(feedback.request_id, None)
            if found is None:
                raise FeedbackError(
                    404, f"no routing decision is known for request id {feedback.request_id!r}"
                )
            routing = found
        targets: dict[str, Step] = {}
        for node_name, ref in routing.items():
            if node_name not in self.policies:
                continue  # another router's, or not a bandit: Seldon ignores these too
            steps = self.graph.nodes[node_name].steps
            by_key = {s.key: s for s in steps}
            if isinstance(ref, int) and 0 <= ref < len(steps):
                targets[node_name] = steps[ref]
            elif isinstance(ref, str) and ref in by_key:
                targets[node_name] = by_key[ref]
            else:
                raise FeedbackError(400, f"node {node_name!r} has no step {ref!r}")
        if not targets:
            raise FeedbackError(404, "the feedback names no bandit node of this graph")
        return targets

    async def apply(self, feedback: Feedback) -> dict[str, str]:
        """Learn a feedback's reward and persist the new state.

        Args:
            feedback: the parsed feedback.

        Returns:
            node -> rewarded step key.

        Raises:
            FeedbackError: as :meth:`resolve`.
        """
        targets = self.resolve(feedback)
        for node_name, step in targets.items():
            self.policies[node_name].update(step.index, feedback.reward)
            self.metrics.bandit_feedback.labels(node_name, step.key).inc()
            self.metrics.bandit_reward.labels(node_name, step.key).inc(feedback.reward)
        await self.persist()
        return {node: step.key for node, step in targets.items()}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The state as saved: node -> ``{"policy", "arms"}``."""
        return {
            name: {"policy": type(policy).__name__, "arms": policy.snapshot()}
            for name, policy in self.policies.items()
        }

    async def persist(self) -> None:
        """Save the state now (no-op without a store); saves are serialized, failures logged."""
        if self.store is None:
            return
        async with self._save_lock:
            try:
                await asyncio.to_thread(self.store.save, self.graph.name, self.snapshot())
            except OSError as exc:
                log.warning(
                    "could not save bandit state; keeping it in memory",
                    extra={"path": str(self.store.path), "error": str(exc)},
                )

    def stats(self) -> dict[str, list[dict[str, Any]]]:
        """The arms' statistics per node, with mean rewards, for ``GET /bandits``."""
        return {
            name: [
                {**arm, "mean": (arm["reward"] / arm["feedback"]) if arm["feedback"] else None}
                for arm in policy.snapshot()
            ]
            for name, policy in self.policies.items()
        }
