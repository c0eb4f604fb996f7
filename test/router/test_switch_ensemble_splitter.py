"""Switch, Ensemble and Splitter nodes against real HTTP step services (KServe semantics)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from .conftest import RouterFactory

NO_MATCH = {
    "error": "Failed to process request",
    "cause": "None of the routes matched with the switch condition",
}


def node(router_type: str, *steps: dict[str, Any], **nodes: Any) -> dict[str, Any]:
    return {"nodes": {"root": {"routerType": router_type, "steps": list(steps)}, **nodes}}


@pytest.fixture
def switch(svc: str) -> dict[str, Any]:
    return node(
        "Switch",
        {"name": "one", "serviceUrl": f"{svc}/echo/one", "condition": 'instances.#(modelId=="1")'},
        {"name": "big", "serviceUrl": f"{svc}/echo/big", "condition": "instances.#(x>1)"},
        {"name": "news", "serviceUrl": f"{svc}/echo/news", "condition": '[@this].#(topic%"new*")'},
    )


@pytest.mark.parametrize(
    ("payload", "service"),
    [
        ({"instances": [{"modelId": "1", "x": 5}]}, "one"),  # the first matching step wins
        ({"instances": [{"modelId": "2", "x": 5}]}, "big"),
        ({"instances": [{"x": 0}], "topic": "newsletter"}, "news"),
    ],
)
async def test_switch_routes_to_the_first_matching_step(
    router: RouterFactory, switch: dict[str, Any], payload: Any, service: str
) -> None:
    async with router(switch) as (client, _):
        response = await client.post("/", json=payload)
    assert response.status_code == 200
    assert response.json()["service"] == service
    assert response.json()["request"] == payload


@pytest.mark.parametrize("content", [b'{"instances": [{"x": 0}]}', b"not json"])
async def test_switch_without_a_match_is_404(
    router: RouterFactory, switch: dict[str, Any], calls: Any, content: bytes
) -> None:
    async with router(switch) as (client, _):
        response = await client.post("/", content=content)
    assert response.status_code == 404
    assert response.json() == NO_MATCH
    assert sum(calls.values()) == 0


async def test_a_nested_switch_without_a_match_keeps_its_404(router: RouterFactory, svc: str) -> None:
    graph = node(
        "Sequence",
        {"nodeName": "pick"},
        {"serviceUrl": f"{svc}/echo/after", "data": "$response"},
        pick={"routerType": "Switch", "steps": [{"serviceUrl": f"{svc}/echo/a", "condition": "nope"}]},
    )
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 404  # KServe turns a nested failure into 500
    assert response.json() == NO_MATCH


async def test_ensemble_merges_answers_by_step_name_or_index(router: RouterFactory, svc: str) -> None:
    graph = node(
        "Ensemble", {"name": "a", "serviceUrl": f"{svc}/predict/a"}, {"serviceUrl": f"{svc}/predict/b"}
    )
    async with router(graph) as (client, _):
        response = await client.post("/", json={"instances": [1]})
    assert response.status_code == 200
    assert response.json() == {
        "a": {"predictions": ["a"], "request": {"instances": [1]}},
        "1": {"predictions": ["b"], "request": {"instances": [1]}},
    }


async def test_ensemble_embeds_soft_failures(router: RouterFactory, svc: str) -> None:
    graph = node(
        "Ensemble",
        {"name": "ok", "serviceUrl": f"{svc}/predict/ok"},
        {"name": "failing", "serviceUrl": f"{svc}/status/500"},
        {"name": "text", "serviceUrl": f"{svc}/text/503"},
        {"name": "down", "serviceUrl": "http://127.0.0.1:9/"},
        {"name": "array", "serviceUrl": f"{svc}/list"},
    )
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"]["predictions"] == ["ok"]
    assert body["failing"] == {"error": "failing on purpose", "code": 500}
    assert body["text"] == {
        "error": "Failed to process request",
        "cause": "step 'text' answered 503 with a body that is not JSON",
    }
    assert body["down"]["error"] == "Failed to process request"
    assert body["down"]["cause"].startswith('Post "http://127.0.0.1:9/"')
    assert body["array"] == [1, 2, 3]


async def test_ensemble_hard_failure_decides_in_step_order(router: RouterFactory, svc: str) -> None:
    graph = node(
        "Ensemble",
        {"name": "ok", "serviceUrl": f"{svc}/predict/ok", "dependency": "Hard"},
        {"name": "first", "serviceUrl": f"{svc}/status/429", "dependency": "Hard"},
        {"name": "second", "serviceUrl": f"{svc}/status/503", "dependency": "Hard"},
    )
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 429
    assert response.json() == {"error": "failing on purpose", "code": 429}


async def test_ensemble_hard_transport_failure_is_500(router: RouterFactory, svc: str) -> None:
    graph = node(
        "Ensemble",
        {"name": "ok", "serviceUrl": f"{svc}/predict/ok"},
        {"name": "down", "serviceUrl": "http://127.0.0.1:9/", "dependency": "Hard"},
    )
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 500
    assert response.json()["error"] == "Failed to process request"


async def test_splitter_proportions_over_1000_requests(router: RouterFactory, svc: str, calls: Any) -> None:
    weights = {"a": 20, "b": 30, "c": 50}
    graph = node("Splitter", *({"serviceUrl": f"{svc}/predict/{k}", "weight": w} for k, w in weights.items()))
    n = 1000
    async with router(graph, seed=20261205) as (client, _):  # seeded: the same 1000 draws every run
        for _ in range(n):
            assert (await client.post("/", json={})).status_code == 200
    for name, weight in weights.items():
        p = weight / 100
        sigma = math.sqrt(n * p * (1 - p))
        assert abs(calls[f"/predict/{name}"] - n * p) < 4 * sigma, dict(calls)


async def test_splitter_never_picks_a_zero_weight_step(router: RouterFactory, svc: str, calls: Any) -> None:
    graph = node(
        "Splitter",
        {"serviceUrl": f"{svc}/predict/never", "weight": 0},
        {"serviceUrl": f"{svc}/predict/always", "weight": 100},
    )
    async with router(graph, seed=7) as (client, _):
        for _ in range(50):
            await client.post("/", json={})
    assert (calls["/predict/never"], calls["/predict/always"]) == (0, 50)


async def test_splitter_answers_the_chosen_steps_status(router: RouterFactory, svc: str) -> None:
    graph = node("Splitter", {"serviceUrl": f"{svc}/status/502", "weight": 100, "dependency": "Hard"})
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 502


async def test_ensemble_hard_failure_with_a_text_body_keeps_code_and_body(
    router: RouterFactory, svc: str
) -> None:
    graph = node(
        "Ensemble",
        {"name": "ok", "serviceUrl": f"{svc}/predict/ok"},
        {"name": "text", "serviceUrl": f"{svc}/text/503", "dependency": "Hard"},
    )
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert (response.status_code, response.text) == (503, "not json")
