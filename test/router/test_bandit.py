"""Bandit nodes: routing reports, feedback by request id or embedded routing, convergence, persistence."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from zeroserve.router.app import ROUTING_HEADER
from zeroserve.router.planner import BANDITS_ANNOTATION

from .conftest import RouterFactory


def bandit_graph(svc: str, strategy: str, *, seed: int = 7, epsilon: float = 0.1) -> dict[str, Any]:
    config = {"root": {"strategy": strategy, "seed": seed, "epsilon": epsilon}}
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": "mab", "annotations": {BANDITS_ANNOTATION: orjson.dumps(config).decode()}},
        "spec": {
            "nodes": {
                "root": {
                    "routerType": "Splitter",
                    "steps": [
                        {"name": "bad", "serviceUrl": f"{svc}/predict/bad", "weight": 70},
                        {"name": "good", "serviceUrl": f"{svc}/predict/good", "weight": 30},
                    ],
                }
            }
        },
    }


async def route(client: httpx.AsyncClient) -> tuple[str, httpx.Response]:
    response = await client.post("/", json={"instances": [[1, 2]]})
    assert response.status_code == 200
    node, _, step = response.headers[ROUTING_HEADER].partition("=")
    assert node == "root"
    return step, response


async def train(client: httpx.AsyncClient, rounds: int, rewards: random.Random) -> list[str]:
    """Route ``rounds`` requests; reward 'good' with p=0.9 and 'bad' with p=0.2 by request id."""
    chosen = []
    for _ in range(rounds):
        step, response = await route(client)
        chosen.append(step)
        success = rewards.random() < (0.9 if step == "good" else 0.2)
        feedback = {"requestId": response.headers["x-request-id"], "reward": 1 if success else 0}
        assert (await client.post("/feedback", json=feedback)).status_code == 200
    return chosen


@pytest.mark.parametrize("strategy", ["ThompsonSampling", "EpsilonGreedy"])
async def test_a_bandit_converges_to_the_better_step(router: RouterFactory, svc: str, strategy: str) -> None:
    async with router(bandit_graph(svc, strategy)) as (client, _):
        chosen = await train(client, 300, random.Random(11))
    share = chosen[-100:].count("good") / 100
    assert share > 0.8, (strategy, share)


async def test_the_choice_is_reported_in_a_header_and_the_body_meta(router: RouterFactory, svc: str) -> None:
    async with router(bandit_graph(svc, "EpsilonGreedy", epsilon=0.0)) as (client, _):
        step, response = await route(client)
    assert step == "bad"  # the largest weight is EpsilonGreedy's initial best
    body = response.json()
    assert body["predictions"] == ["bad"]
    assert body["meta"] == {"routing": {"root": 0}}


async def test_feedback_by_embedded_routing_seldon_and_by_name(router: RouterFactory, svc: str) -> None:
    async with router(bandit_graph(svc, "EpsilonGreedy", epsilon=0.0)) as (client, _):
        _, response = await route(client)
        seldon = {"request": {}, "response": response.json(), "reward": 0, "truth": None}
        assert (await client.post("/api/v1.0/feedback", json=seldon)).json() == {"applied": {"root": "bad"}}
        by_name = {"routing": {"root": "good"}, "reward": 1}
        assert (await client.post("/feedback", json=by_name)).json() == {"applied": {"root": "good"}}
        stats = (await client.get("/bandits")).json()["root"]
        step, _ = await route(client)
    assert [(a["step"], a["feedback"], a["reward"]) for a in stats] == [("bad", 1, 0.0), ("good", 1, 1.0)]
    assert step == "good"  # the best arm moved with the rewards


async def test_feedback_by_request_id_applies_once(router: RouterFactory, svc: str) -> None:
    async with router(bandit_graph(svc, "ThompsonSampling")) as (client, _):
        _, response = await route(client)
        feedback = {"requestId": response.headers["x-request-id"], "reward": 1}
        first = await client.post("/feedback", json=feedback)
        second = await client.post("/feedback", json=feedback)
    assert first.status_code == 200
    assert second.status_code == 404
    assert "no routing decision is known" in second.json()["cause"]


@pytest.mark.parametrize(
    ("payload", "status", "cause"),
    [
        ({"requestId": "x"}, 400, "reward must be a number between 0 and 1"),
        ({"requestId": "x", "reward": 1.5}, 400, "reward must be a number between 0 and 1"),
        ({"reward": 1}, 400, "needs a requestId or the response's routing"),
        ({"routing": {"root": 5}, "reward": 1}, 400, "node 'root' has no step 5"),
        ({"routing": {"other": 0}, "reward": 1}, 404, "names no bandit node"),
        ([1], 400, "must be a JSON object"),
    ],
)
async def test_bad_feedback_is_rejected(
    router: RouterFactory, svc: str, payload: Any, status: int, cause: str
) -> None:
    async with router(bandit_graph(svc, "ThompsonSampling")) as (client, _):
        response = await client.post("/feedback", json=payload)
    assert response.status_code == status
    assert cause in response.json()["cause"]


async def test_a_seed_makes_routing_reproducible(router: RouterFactory, svc: str) -> None:
    runs = []
    for _ in range(2):
        async with router(bandit_graph(svc, "ThompsonSampling", seed=5)) as (client, _):
            runs.append([(await route(client))[0] for _ in range(20)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {"bad", "good"}  # the uninformed prior explores both


async def test_what_was_learned_survives_a_restart(router: RouterFactory, svc: str, tmp_path: Path) -> None:
    graph = bandit_graph(svc, "ThompsonSampling")
    async with router(graph, state_dir=tmp_path) as (client, _):
        await train(client, 150, random.Random(3))
        learned = (await client.get("/bandits")).json()
    saved = orjson.loads((tmp_path / "bandits.json").read_bytes())
    assert saved["graph"] == "mab"
    assert saved["nodes"]["root"]["policy"] == "ThompsonSampling"
    async with router(graph, state_dir=tmp_path) as (client, _):
        restored = (await client.get("/bandits")).json()
        chosen = [(await route(client))[0] for _ in range(50)]
    assert restored == learned
    assert chosen.count("good") > 40


async def test_feedback_still_applies_when_the_state_cannot_be_saved(
    router: RouterFactory, svc: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    async with router(bandit_graph(svc, "ThompsonSampling"), state_dir=blocker) as (client, _):
        response = await client.post("/feedback", json={"routing": {"root": "good"}, "reward": 1})
        stats = (await client.get("/bandits")).json()["root"]
    assert response.status_code == 200
    assert stats[1]["feedback"] == 1
    assert "could not save bandit state" in caplog.text


async def test_a_failed_routed_request_can_still_be_rewarded(router: RouterFactory, svc: str) -> None:
    graph = bandit_graph(svc, "EpsilonGreedy", epsilon=0.0)
    graph["spec"]["nodes"]["root"]["steps"][0]["serviceUrl"] = "http://127.0.0.1:9/"
    async with router(graph) as (client, _):
        response = await client.post("/", json={}, headers={"x-request-id": "failed-1"})
        feedback = await client.post("/feedback", json={"requestId": "failed-1", "reward": 0})
    assert response.status_code == 500
    assert response.headers[ROUTING_HEADER] == "root=bad"
    assert feedback.json() == {"applied": {"root": "bad"}}
