"""Seldon's graph walk: a prediction down the units and back, and feedback to the routers that served it.

``predict`` per unit, as Seldon Core's executor (``predictor_process.go``):

1. *input*: a MODEL's ``/api/v1.0/predictions``, a TRANSFORMER's (or a ``TRANSFORM_INPUT`` unit's)
   ``/transform-input``;
2. *route* (units with children): a ROUTER's (or ``ROUTE`` unit's) ``/route`` answer ``[[N]]``, a
   bandit's choice, ``RANDOM_ABTEST``'s draw; others ``-1``. ``-1`` runs every child concurrently,
   ``-2`` none (the message goes on as it is), ``N`` child N. Recorded in ``meta.routing``;
3. *aggregate*: a COMBINER's (or ``AGGREGATE`` unit's) ``/aggregate`` of ``{"seldonMessages": [...]}``,
   ``AVERAGE_COMBINER``'s element-wise mean; others take the first child's answer;
4. *output*: an OUTPUT_TRANSFORMER's (or ``TRANSFORM_OUTPUT`` unit's) ``/transform-output``.

``feedback`` per unit: the children the recorded route chose (all when the unit's entry is absent or
``-1``, none for ``-2``) get it first; then a bandit learns the reward for the branch it chose, and a
component that is a MODEL or ROUTER (or lists ``SEND_FEEDBACK``) is sent the feedback on
``/api/v1.0/feedback`` with the full ``response.meta.routing``, so the wrapper hands it its own entry.

Units whose endpoint is ``GRPC`` get the same calls as the ``prediction.proto`` RPCs
(:mod:`.grpc_calls`).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import orjson

from zeroserve.process import tracing
from zeroserve.router.bandit.policy import ArmStats, EpsilonGreedy, ThompsonSampling
from zeroserve.router.bandit.store import BanditStore
from zeroserve.router.seldon.graph import SeldonGraph, Unit
from zeroserve.router.seldon.grpc_calls import GrpcComponents
from zeroserve.router.seldon.messages import RequestMeta, SeldonError

__all__ = ["GraphWalker"]

_PATHS = {"predict": "/api/v1.0/predictions", "feedback": "/api/v1.0/feedback"}


def _route_index(answer: dict[str, Any], unit: str) -> int:
    data = answer.get("data")
    value: Any = None
    if isinstance(data, dict):
        if isinstance(data.get("ndarray"), list) and data["ndarray"]:
            value = data["ndarray"][0]
            value = value[0] if isinstance(value, list) and value else value
        elif isinstance(data.get("tensor"), dict) and data["tensor"].get("values"):
            value = data["tensor"]["values"][0]
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise SeldonError(
            500, f"router {unit!r} answered no integer route: {answer.get('data')!r}", "ROUTING_ERROR"
        )
    return int(value)


def _average(unit: str, answers: list[dict[str, Any]]) -> dict[str, Any]:
    import numpy as np

    try:
        arrays = [np.asarray(a["data"]["ndarray"], dtype=float) for a in answers]
        mean = np.mean(np.stack(arrays), axis=0)
    except (KeyError, TypeError, ValueError) as exc:
        raise SeldonError(
            500, f"{unit!r} cannot average its children's answers: {exc}", "COMBINER_ERROR"
        ) from None
    names = answers[0]["data"].get("names") or []
    return {"data": {"names": names, "ndarray": mean.tolist()}}


class GraphWalker:
    """Runs predictions and feedback through one predictor's graph.

    Args:
        graph: the graph.
        http: the pooled client components are called with.
        rng: the random source of bandits and RANDOM_ABTEST (seeded per bandit when it has a seed).
        store: where bandits' arms are kept across restarts (and scale to zero); ``None``: memory only.
        grpc: the channels of units served over gRPC (one of its own when omitted; closed by
            :meth:`close`).
    """

    def __init__(
        self,
        graph: SeldonGraph,
        http: httpx.AsyncClient,
        rng: random.Random | None = None,
        store: BanditStore | None = None,
        grpc: GrpcComponents | None = None,
    ) -> None:
        self.graph = graph
        self.http = http
        self.grpc = grpc or GrpcComponents()
        self.rng = rng or random.Random()
        self.store = store
        self.bandits: dict[str, EpsilonGreedy | ThompsonSampling] = {}
        self._save_lock = asyncio.Lock()
        saved = store.load() if store is not None else {}
        for unit in graph.root.walk():
            if unit.bandit is None:
                continue
            known = saved.get(unit.name, {})
            arms = [known.get(child.name) or ArmStats(step=child.name) for child in unit.children]
            bandit_rng = random.Random(unit.bandit.seed) if unit.bandit.seed is not None else self.rng
            if unit.bandit.strategy == "EpsilonGreedy":
                best = min(max(unit.bandit.best_branch, 0), len(arms) - 1)
                self.bandits[unit.name] = EpsilonGreedy(
                    arms, bandit_rng, epsilon=unit.bandit.epsilon, best=best
                )
            else:
                self.bandits[unit.name] = ThompsonSampling(arms, bandit_rng)

    async def _call(
        self, unit: Unit, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        if not tracing.on:
            return await self._call_unit(unit, path, body, headers)
        attributes = {"zeroserve.graph.unit": unit.name, "url.path": path}
        with tracing.span(f"seldon {unit.name}{path}", kind="client", attributes=attributes):
            headers = {k: v for k, v in headers.items() if k.lower() not in ("traceparent", "tracestate")}
            tracing.inject(headers)  # the unit continues this span
            return await self._call_unit(unit, path, body, headers)

    async def _call_unit(
        self, unit: Unit, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        if unit.grpc is not None:
            return await self.grpc.call(
                unit.name, unit.type, unit.grpc, path, body, headers, self.graph.timeout
            )
        assert unit.url is not None
        try:
            response = await self.http.post(
                unit.url + path,
                content=orjson.dumps(body),
                headers={"content-type": "application/json", **headers},
                timeout=self.graph.timeout if self.graph.timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException:
            raise SeldonError(
                504, f"unit {unit.name!r} did not answer within {self.graph.timeout}s", "UNIT_TIMEOUT"
            ) from None
        except httpx.HTTPError as exc:
            raise SeldonError(
                503, f"unit {unit.name!r} could not be reached: {exc}", "UNIT_UNREACHABLE"
            ) from None
        if not 200 <= response.status_code < 300:
            raise SeldonError(
                response.status_code,
                f"unit {unit.name!r} answered {response.status_code} on {path}: {response.text[:300]}",
                "UNIT_ERROR",
                response.content,
            )
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise SeldonError(500, f"unit {unit.name!r} answered no JSON on {path}", "UNIT_ERROR") from None
        if not isinstance(answer, dict):
            raise SeldonError(500, f"unit {unit.name!r} answered no JSON object on {path}", "UNIT_ERROR")
        return answer

    async def _component(
        self, unit: Unit, path: str, message: dict[str, Any], meta: RequestMeta, headers: dict[str, str]
    ) -> dict[str, Any]:
        return meta.absorb(await self._call(unit, path, meta.outgoing(message), headers))

    async def predict(
        self, message: dict[str, Any], meta: RequestMeta, headers: dict[str, str]
    ) -> dict[str, Any]:
        """Run ``message`` through the graph; ``meta`` collects routing, paths, tags and metrics.

        Raises:
            SeldonError: when a unit fails or answers something the walk cannot use.
        """
        return await self._predict(
            self.graph.root, {k: v for k, v in message.items() if k != "meta"}, meta, headers
        )

    async def _route(
        self, unit: Unit, message: dict[str, Any], meta: RequestMeta, headers: dict[str, str]
    ) -> int:
        if unit.name in self.bandits:
            policy = self.bandits[unit.name]
            choice = policy.choose()
            policy.arms[choice].routed += 1
            return choice
        if unit.implementation == "RANDOM_ABTEST":
            ratio = float(unit.parameters.get("ratioA", "0.5"))
            return 0 if self.rng.random() < ratio else 1
        if unit.implementation == "SIMPLE_ROUTER":
            return 0
        if unit.has("ROUTE") and unit.url:
            answer = await self._call(unit, "/route", meta.outgoing(message), headers)
            return _route_index(answer, unit.name)
        return -1

    async def _predict(
        self, unit: Unit, message: dict[str, Any], meta: RequestMeta, headers: dict[str, str]
    ) -> dict[str, Any]:
        meta.request_path[unit.name] = unit.image
        if unit.implementation == "SIMPLE_MODEL":
            message = {"data": {"names": ["proba"], "ndarray": [[0.9, 0.1]]}}
        elif unit.has("TRANSFORM_INPUT") and unit.url:
            path = _PATHS["predict"] if unit.type == "MODEL" else "/transform-input"
            message = await self._component(unit, path, message, meta, headers)
        if unit.children:
            route = await self._route(unit, message, meta, headers)
            if not -2 <= route < len(unit.children):
                raise SeldonError(
                    500,
                    f"router {unit.name!r} chose child {route}; it has {len(unit.children)}",
                    "ROUTING_ERROR",
                )
            meta.routing[unit.name] = route
            if route != -2:
                chosen = unit.children if route == -1 else [unit.children[route]]
                answers = list(
                    await asyncio.gather(*(self._predict(c, message, meta, headers) for c in chosen))
                )
                if unit.implementation == "AVERAGE_COMBINER":
                    message = _average(unit.name, answers)
                elif unit.has("AGGREGATE") and unit.url:
                    body = {"seldonMessages": [meta.outgoing(a) for a in answers]}
                    message = meta.absorb(await self._call(unit, "/aggregate", body, headers))
                else:
                    message = answers[0]
        if unit.has("TRANSFORM_OUTPUT") and unit.url:
            message = await self._component(unit, "/transform-output", message, meta, headers)
        return message

    async def feedback(
        self, feedback: dict[str, Any], routing: dict[str, int], headers: dict[str, str]
    ) -> None:
        """Send ``feedback`` (Seldon's ``Feedback``) to every unit on the path ``routing`` records.

        Raises:
            SeldonError: when a unit refuses it.
        """
        found = feedback.get("response")
        response: dict[str, Any] = found if isinstance(found, dict) else {}
        meta = dict(response["meta"]) if isinstance(response.get("meta"), dict) else {}
        meta["routing"] = routing
        sent = {**feedback, "response": {**response, "meta": meta}}
        reward = feedback.get("reward", 0.0)
        reward = float(reward) if isinstance(reward, int | float) and not isinstance(reward, bool) else 0.0
        await self._feedback(self.graph.root, sent, routing, min(max(reward, 0.0), 1.0), headers)
        if self.store is not None and any(routing.get(name, -1) >= 0 for name in self.bandits):
            async with self._save_lock:
                await asyncio.to_thread(self.store.save, self.graph.deployment, self.snapshot())

    async def close(self) -> None:
        """Close the gRPC channels to components."""
        await self.grpc.close()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The bandits' arms, as :class:`~zeroserve.router.bandit.store.BanditStore` saves them."""
        return {
            name: {"policy": type(policy).__name__, "arms": policy.snapshot()}
            for name, policy in self.bandits.items()
        }

    async def _feedback(
        self,
        unit: Unit,
        feedback: dict[str, Any],
        routing: dict[str, int],
        reward: float,
        headers: dict[str, str],
    ) -> None:
        route = routing.get(unit.name)
        if unit.children and route != -2:
            if route is None or route == -1:
                chosen = unit.children
            elif 0 <= route < len(unit.children):
                chosen = [unit.children[route]]
            else:
                raise SeldonError(
                    400, f"feedback routing for {unit.name!r} is {route}, out of range", "BAD_FEEDBACK"
                )
            await asyncio.gather(*(self._feedback(c, feedback, routing, reward, headers) for c in chosen))
        if unit.name in self.bandits:
            if route is not None and route >= 0:
                self.bandits[unit.name].update(route, reward)
        elif unit.url and unit.has("SEND_FEEDBACK"):
            await self._call(unit, _PATHS["feedback"], feedback, headers)
