"""Sequence nodes against real HTTP step services (KServe semantics)."""

from __future__ import annotations

from typing import Any

from .conftest import RouterFactory


def sequence(*steps: dict[str, Any], **nodes: Any) -> dict[str, Any]:
    return {"nodes": {"root": {"routerType": "Sequence", "steps": list(steps)}, **nodes}}


async def test_request_and_response_data(router: RouterFactory, svc: str) -> None:
    graph = sequence(
        {"name": "first", "serviceUrl": f"{svc}/predict/first"},
        {"name": "second", "serviceUrl": f"{svc}/echo/second", "data": "$response"},
        {"name": "third", "serviceUrl": f"{svc}/echo/third"},
    )
    async with router(graph) as (client, _):
        response = await client.post("/", json={"instances": [[1, 2]]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["service"] == "third"
    assert body["request"] == {"instances": [[1, 2]]}  # $request: the node's input


async def test_response_chains_the_previous_steps_answer(router: RouterFactory, svc: str) -> None:
    graph = sequence(
        {"serviceUrl": f"{svc}/predict/first"},
        {"serviceUrl": f"{svc}/echo/second", "data": "$response"},
    )
    async with router(graph) as (client, _):
        body = (await client.post("/", json={"instances": [1]})).json()
    assert body["request"] == {"predictions": ["first"], "request": {"instances": [1]}}


async def test_map_predictions_to_instances_renames_the_steps_input(router: RouterFactory, svc: str) -> None:
    graph = sequence(
        {"serviceUrl": f"{svc}/predict/first"},
        {"serviceUrl": f"{svc}/echo/second", "data": "$response", "mapPredictionsToInstances": True},
    )
    async with router(graph) as (client, _):
        body = (await client.post("/", json={"instances": [1]})).json()
    assert body["request"] == {"instances": ["first"]}  # other top-level keys are dropped


async def test_map_predictions_leaves_inputs_without_predictions_alone(
    router: RouterFactory, svc: str
) -> None:
    graph = sequence({"serviceUrl": f"{svc}/echo/only", "mapPredictionsToInstances": True})
    async with router(graph) as (client, _):
        body = (await client.post("/", json={"instances": [1], "predictions": []})).json()
    assert body["request"] == {"instances": [1], "predictions": []}


async def test_unmet_condition_stops_with_the_previous_response_and_200(
    router: RouterFactory, svc: str, calls: Any
) -> None:
    graph = sequence(
        {"serviceUrl": f"{svc}/predict/cat"},
        {"serviceUrl": f"{svc}/echo/never", "condition": 'predictions.#(=="dog")'},
    )
    async with router(graph) as (client, _):
        response = await client.post("/", json={"instances": [1]})
    assert response.status_code == 200
    assert response.json()["predictions"] == ["cat"]
    assert calls["/echo/never"] == 0


async def test_met_condition_runs_the_step(router: RouterFactory, svc: str) -> None:
    graph = sequence(
        {"serviceUrl": f"{svc}/predict/dog"},
        {
            "serviceUrl": f"{svc}/echo/breed",
            "data": "$response",
            "condition": '[@this].#(predictions.0=="dog")',
        },
    )
    async with router(graph) as (client, _):
        body = (await client.post("/", json={})).json()
    assert body["service"] == "breed"


async def test_condition_on_the_first_step_is_invalid_response_500(router: RouterFactory, svc: str) -> None:
    graph = sequence({"serviceUrl": f"{svc}/echo/a", "condition": "instances"})
    async with router(graph) as (client, _):
        response = await client.post("/", json={"instances": [1]})
    assert response.status_code == 500
    assert response.json() == {"error": "Failed to process request", "cause": "invalid response"}


async def test_hard_failure_stops_with_the_steps_code_and_body(
    router: RouterFactory, svc: str, calls: Any
) -> None:
    graph = sequence(
        {"serviceUrl": f"{svc}/status/503", "dependency": "Hard"},
        {"serviceUrl": f"{svc}/echo/after"},
    )
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 503
    assert response.json() == {"error": "failing on purpose", "code": 503}
    assert calls["/echo/after"] == 0


async def test_hard_failure_with_a_text_body_keeps_it_without_json_content_type(
    router: RouterFactory, svc: str
) -> None:
    graph = sequence({"serviceUrl": f"{svc}/text/422", "dependency": "Hard"}, {"serviceUrl": f"{svc}/echo/x"})
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert (response.status_code, response.text) == (422, "not json")
    assert "content-type" not in response.headers


async def test_soft_failure_continues_and_the_last_step_decides(router: RouterFactory, svc: str) -> None:
    graph = sequence(
        {"serviceUrl": f"{svc}/status/500"},
        {"serviceUrl": f"{svc}/echo/after", "data": "$response"},
    )
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 200
    assert response.json()["request"] == {"error": "failing on purpose", "code": 500}


async def test_the_last_steps_failure_code_is_the_nodes(router: RouterFactory, svc: str) -> None:
    graph = sequence({"serviceUrl": f"{svc}/echo/a"}, {"serviceUrl": f"{svc}/status/400"})
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 400


async def test_nested_nodes_through_node_name(router: RouterFactory, svc: str) -> None:
    graph = sequence(
        {"name": "inner", "nodeName": "inner"},
        {"serviceUrl": f"{svc}/echo/outer", "data": "$response"},
        inner={"routerType": "Sequence", "steps": [{"serviceUrl": f"{svc}/predict/nested"}]},
    )
    async with router(graph) as (client, _):
        body = (await client.post("/", json={})).json()
    assert body["request"]["predictions"] == ["nested"]


async def test_transport_error_is_500_with_kserves_error_body(router: RouterFactory) -> None:
    graph = sequence({"serviceUrl": "http://127.0.0.1:9/v1/models/x:predict"})
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "Failed to process request"
    assert body["cause"].startswith('Post "http://127.0.0.1:9/v1/models/x:predict": ')
