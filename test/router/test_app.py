"""The router's HTTP surface: headers, trace context, timeouts, health and metrics."""

from __future__ import annotations

import re
from typing import Any

import pytest

from zeroserve.router.headers import HeaderPropagator, canonical_header

from .conftest import RouterFactory


def one_step(url: str, **graph: Any) -> dict[str, Any]:
    return {
        "nodes": {"root": {"routerType": "Sequence", "steps": [{"name": "s", "serviceUrl": url}]}},
        **graph,
    }


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("x-request-id", "X-Request-Id"),
        ("AUTHORIZATION", "Authorization"),
        ("test-header-1", "Test-Header-1"),
    ],
)
def test_header_names_are_canonicalized_like_go(name: str, canonical: str) -> None:
    assert canonical_header(name) == canonical


def test_invalid_patterns_are_ignored_and_reported() -> None:
    propagator = HeaderPropagator(["Test-Header-[0-9", "Auth*"])
    assert propagator.invalid == ["Test-Header-[0-9"]
    selected = propagator.select([(b"authorization", b"Bearer t"), (b"test-header-1", b"v")])
    assert selected == [("Authorization", "Bearer t")]


async def test_only_matching_headers_and_trace_context_reach_every_step(
    router: RouterFactory, svc: str
) -> None:
    graph = {
        "nodes": {
            "root": {
                "routerType": "Ensemble",
                "steps": [{"name": "a", "serviceUrl": f"{svc}/echo/a"}, {"name": "b", "nodeName": "inner"}],
            },
            "inner": {"routerType": "Sequence", "steps": [{"serviceUrl": f"{svc}/echo/b"}]},
        }
    }
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    headers = {
        "Authorization": "Bearer token",
        "Test-Header-1": "one",
        "Test-Header-2": "two",
        "Other": "no",
        "x-request-id": "req-1",
        "traceparent": traceparent,
        "tracestate": "vendor=1",
    }
    async with router(graph, propagate_headers=["Test-Header-*", "Auth*"]) as (client, _):
        response = await client.post("/v1/models/anything:predict", json={"instances": []}, headers=headers)
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-1"
    for key in ("a", "b"):
        seen = response.json()[key]["headers"]
        assert seen["authorization"] == "Bearer token"
        assert (seen["test-header-1"], seen["test-header-2"]) == ("one", "two")
        assert "other" not in seen
        assert seen["x-request-id"] == "req-1"
        assert seen["traceparent"] == traceparent
        assert seen["tracestate"] == "vendor=1"
        assert seen["content-type"] == "application/json"


async def test_a_request_id_and_trace_are_generated_when_absent(router: RouterFactory, svc: str) -> None:
    async with router(one_step(f"{svc}/echo/a")) as (client, _):
        response = await client.post("/", json={})
    seen = response.json()["headers"]
    assert seen["x-request-id"] == response.headers["x-request-id"]
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", seen["traceparent"])


async def test_a_propagated_content_type_is_kept(router: RouterFactory, svc: str) -> None:
    async with router(one_step(f"{svc}/echo/a"), propagate_headers=["Content-Type"]) as (client, _):
        response = await client.post("/", content=b"{}", headers={"content-type": "application/x-custom"})
    assert response.json()["headers"]["content-type"] == "application/x-custom"


async def test_service_client_timeout_is_504(router: RouterFactory, svc: str) -> None:
    graph = one_step(f"{svc}/slow/3000", routerTimeouts={"serviceClient": 1})  # whole seconds (int64)
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 504
    assert response.json() == {
        "error": "Failed to process request",
        "cause": f'Post "{svc}/slow/3000": timed out after 1s',
    }


async def test_graph_timeout_is_504(router: RouterFactory, svc: str) -> None:
    graph = {
        "nodes": {
            "root": {
                "routerType": "Sequence",
                "steps": [{"serviceUrl": f"{svc}/slow/300"}, {"serviceUrl": f"{svc}/slow/3000"}],
            }
        },
        "timeout": 1,  # whole seconds (int64, as KServe's field)
    }
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 504
    assert response.json()["cause"] == "the graph's timeout was exceeded"


async def test_a_fast_step_within_its_timeout_succeeds(router: RouterFactory, svc: str) -> None:
    graph = one_step(f"{svc}/slow/10", routerTimeouts={"serviceClient": 5}, timeout=10)
    async with router(graph) as (client, _):
        response = await client.post("/", json={})
    assert response.status_code == 200


async def test_health_readiness_and_metrics(router: RouterFactory, svc: str) -> None:
    graph = {
        "nodes": {
            "root": {
                "routerType": "Sequence",
                "steps": [
                    {"name": "ok", "serviceUrl": f"{svc}/echo/a"},
                    {"name": "bad", "serviceUrl": f"{svc}/status/500"},
                    {"name": "down", "serviceUrl": "http://127.0.0.1:9/", "dependency": "Hard"},
                ],
            }
        }
    }
    async with router(graph) as (client, app):
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.post("/", json={})).status_code == 500
        metrics = (await client.get("/metrics")).text
        app.shutting_down = True
        assert (await client.get("/readyz")).status_code == 503
    assert 'zeroserve_router_requests_total{code="500"} 1.0' in metrics
    assert 'zeroserve_router_node_requests_total{code="500",node="root"} 1.0' in metrics
    assert 'zeroserve_router_step_requests_total{code="200",node="root",step="ok"} 1.0' in metrics
    assert 'zeroserve_router_step_requests_total{code="500",node="root",step="bad"} 1.0' in metrics
    assert 'zeroserve_router_step_errors_total{node="root",reason="status",step="bad"} 1.0' in metrics
    assert 'zeroserve_router_step_errors_total{node="root",reason="transport",step="down"} 1.0' in metrics
    assert 'zeroserve_router_step_duration_seconds_count{node="root",step="ok"} 1.0' in metrics
    assert 'zeroserve_router_node_duration_seconds_count{node="root"} 1.0' in metrics


async def test_feedback_without_bandits_is_404(router: RouterFactory, svc: str) -> None:
    async with router(one_step(f"{svc}/echo/a")) as (client, _):
        response = await client.post("/feedback", json={"requestId": "x", "reward": 1})
    assert response.status_code == 404
    assert response.json() == {
        "error": "Failed to process feedback",
        "cause": "this graph has no bandit node",
    }
