"""The SeldonDeployment orchestrator (``zeroserve.router.seldon``) over real Seldon components.

The components are ``examples/`` served by ``seldon-core-microservice`` (one process each); the
orchestrator app is called in-process through httpx's ASGI transport and calls the components over
real HTTP.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.waiting import wait_until, wait_until_async

from zeroserve.router.bandit.store import BanditStore
from zeroserve.router.seldon.app import SeldonOrchestrator
from zeroserve.router.seldon.graph import SeldonGraphError, load_seldon_json
from zeroserve.router.seldon.walk import GraphWalker


def unit(name: str, port: int | None = None, **fields: Any) -> dict[str, Any]:
    """A graph unit; with a port, served at ``127.0.0.1:<port>``."""
    raw: dict[str, Any] = {"name": name, **fields}
    if port is not None:
        raw["endpoint"] = {"service_host": "127.0.0.1", "service_port": port, "type": "REST"}
    return raw


Orchestrate = Callable[[dict[str, Any]], Any]


@pytest.fixture
async def orchestrate() -> AsyncIterator[Callable[..., tuple[httpx.AsyncClient, SeldonOrchestrator]]]:
    clients: list[httpx.AsyncClient] = []

    def build(
        graph: dict[str, Any],
        seed: int = 1,
        shadows: list[str] | None = None,
        store: BanditStore | None = None,
        timeout: float | None = None,
    ) -> tuple[httpx.AsyncClient, SeldonOrchestrator]:
        document: dict[str, Any] = {
            "deployment": "d",
            "namespace": "ns",
            "graph": graph,
            "shadows": shadows or [],
        }
        if timeout is not None:
            document["timeout"] = timeout
        parsed = load_seldon_json(json.dumps(document))
        http = httpx.AsyncClient(trust_env=False)
        app = SeldonOrchestrator(parsed, http, GraphWalker(parsed, http, random.Random(seed), store))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orchestrator")
        clients.extend([http, client])
        return client, app

    yield build
    for client in clients:
        await client.aclose()


def ndarray(answer: dict[str, Any]) -> Any:
    return answer["data"]["ndarray"]


async def test_model_meta_is_filled(orchestrate: Any, components: dict[str, int]) -> None:
    client, _ = orchestrate(unit("doubler", components["Doubler"], type="MODEL"))
    reply = await client.post("/api/v1.0/predictions", json={"data": {"ndarray": [[1.0, 2.0]]}})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert ndarray(answer) == [[2.0, 4.0]]
    meta = answer["meta"]
    assert len(meta["puid"]) == 26
    assert meta["requestPath"] == {"doubler": "doubler"}
    assert meta["routing"] == {}
    assert meta["tags"] == {"model": "doubler"}
    assert [m["key"] for m in meta["metrics"]] == ["doubled"]
    # the v0.1 alias, Seldon's ingress prefix, and a client puid echoed
    reply = await client.post(
        "/seldon/ns/d/api/v0.1/predictions", json={"meta": {"puid": "abc"}, "data": {"ndarray": [[1]]}}
    )
    assert reply.json()["meta"]["puid"] == "abc"


async def test_router_routes_by_index_all_and_none(orchestrate: Any, components: dict[str, int]) -> None:
    graph = unit(
        "picker",
        components["Picker"],
        type="ROUTER",
        children=[unit("doubler", components["Doubler"]), unit("adder", components["Adder"])],
    )
    client, _ = orchestrate(graph)
    answers = {}
    for route in (0, 1, -2):
        reply = await client.post("/api/v1.0/predictions", json={"data": {"ndarray": [[route, 3]]}})
        assert reply.status_code == 200, reply.text
        answers[route] = reply.json()
    assert ndarray(answers[0]) == [[0.0, 6.0]]
    assert answers[0]["meta"]["routing"] == {"picker": 0}
    assert set(answers[0]["meta"]["requestPath"]) == {"picker", "doubler"}
    assert ndarray(answers[1]) == [[2.0, 4.0]]
    assert answers[1]["meta"]["routing"] == {"picker": 1}
    assert ndarray(answers[-2]) == [[-2, 3]]  # no child: the request is the response
    assert answers[-2]["meta"]["routing"] == {"picker": -2}
    # -1 runs every child; a plain (non-combiner) parent passes the first answer on
    reply = await client.post("/api/v1.0/predictions", json={"data": {"ndarray": [[-1, 1]]}})
    assert reply.json()["meta"]["routing"] == {"picker": -1}
    assert ndarray(reply.json()) == [[-2.0, 2.0]]
    assert reply.json()["meta"]["tags"]["model"] in ("doubler", "adder1")
    # a route out of range is a readable error in Seldon's shape
    reply = await client.post("/api/v1.0/predictions", json={"data": {"ndarray": [[5, 1]]}})
    assert reply.status_code == 500
    assert reply.json()["status"]["status"] == "FAILURE"
    assert "chose child 5" in reply.json()["status"]["info"]


async def test_combiner_transformer_output_transformer(orchestrate: Any, components: dict[str, int]) -> None:
    graph = unit(
        "negator",
        components["Negator"],
        type="OUTPUT_TRANSFORMER",
        children=[
            unit(
                "scaler",
                components["Scaler"],
                type="TRANSFORMER",
                children=[
                    unit(
                        "summer",
                        components["Summer"],
                        type="COMBINER",
                        children=[unit("doubler", components["Doubler"]), unit("adder", components["Adder"])],
                    )
                ],
            )
        ],
    )
    client, _ = orchestrate(graph)
    reply = await client.post("/api/v1.0/predictions", json={"data": {"names": ["a"], "ndarray": [[1.0]]}})
    assert reply.status_code == 200, reply.text
    # scaler: 10; doubler 20 + adder 11 = 31; negator: -31
    assert ndarray(reply.json()) == [[-31.0]]
    meta = reply.json()["meta"]
    assert set(meta["requestPath"]) == {"negator", "scaler", "summer", "doubler", "adder"}
    assert meta["routing"] == {"negator": -1, "scaler": -1, "summer": -1}


async def test_feedback_reaches_the_router_by_routing_and_by_puid(
    orchestrate: Any, components: dict[str, int], feedback_file: Path
) -> None:
    graph = unit(
        "picker",
        components["Picker"],
        type="ROUTER",
        children=[unit("doubler", components["Doubler"]), unit("adder", components["Adder"])],
    )
    client, _ = orchestrate(graph)
    before = len(feedback_file.read_text().splitlines()) if feedback_file.exists() else 0  # noqa: ASYNC240
    answer = (await client.post("/api/v1.0/predictions", json={"data": {"ndarray": [[1, 0]]}})).json()
    request = {"data": {"ndarray": [[1, 0]]}}
    sent = {"request": request, "response": answer, "reward": 1}
    reply = await client.post("/api/v1.0/feedback", json=sent)
    assert reply.status_code == 200, reply.text
    assert reply.json()["meta"]["routing"] == {"picker": 1}
    # by puid alone: the orchestrator remembers the routing
    puid_only = {"response": {"meta": {"puid": answer["meta"]["puid"]}}, "reward": 0.5}
    reply = await client.post("/api/v1.0/feedback", json=puid_only)
    assert reply.json()["meta"]["routing"] == {"picker": 1}
    lines = wait_until(
        lambda: feedback_file.exists() and len(feedback_file.read_text().splitlines()) >= before + 2,
        10,
        what="the router to record two feedbacks",
    )
    assert lines
    records = [json.loads(line) for line in feedback_file.read_text().splitlines()[before:]]  # noqa: ASYNC240
    assert [(r["reward"], r["routing"]) for r in records] == [(1, 1), (0.5, 1)]
    # a malformed feedback is Seldon's 400
    reply = await client.post("/api/v1.0/feedback", json={"reward": "good"})
    assert reply.status_code == 400
    assert reply.json()["status"]["reason"] == "BAD_FEEDBACK"


async def test_bandit_learns_from_feedback(
    orchestrate: Any, components: dict[str, int], tmp_path: Path
) -> None:
    graph = unit(
        "bandit",
        bandit={"strategy": "EpsilonGreedy", "n_branches": 2, "epsilon": 0.2, "best_branch": 0, "seed": 3},
        type="ROUTER",
        children=[unit("doubler", components["Doubler"]), unit("adder", components["Adder"])],
    )
    client, app = orchestrate(graph, store=BanditStore(tmp_path))
    for _ in range(40):
        answer = (await client.post("/api/v1.0/predictions", json={"data": {"ndarray": [[1]]}})).json()
        branch = answer["meta"]["routing"]["bandit"]
        reward = 1.0 if branch == 1 else 0.0  # the adder is the better branch
        await client.post("/api/v1.0/feedback", json={"response": answer, "reward": reward})
    policy = app.walker.bandits["bandit"]
    assert policy.best == 1
    assert policy.arms[1].feedback > 0 and policy.arms[1].mean == 1.0
    assert sum(a.routed for a in policy.arms) == 40
    # a new orchestrator (a restart, or scale from zero) starts from what was learned
    _, again = orchestrate(graph, store=BanditStore(tmp_path))
    restored = again.walker.bandits["bandit"]
    assert restored.best == 1  # type: ignore[union-attr]
    assert [a.feedback for a in restored.arms] == [a.feedback for a in policy.arms]


async def test_other_protocols_pass_through_to_a_lone_unit(
    orchestrate: Any, components: dict[str, int]
) -> None:
    client, _ = orchestrate(unit("doubler", components["Doubler"]))
    reply = await client.post("/v1/models/doubler:predict", json={"instances": [[1.0, 2.0]]})
    assert reply.status_code == 200, reply.text
    assert reply.json()["predictions"] == [[2.0, 4.0]]
    assert (await client.get("/health/ping")).status_code == 200


async def test_a_component_past_the_rest_timeout_is_a_504(
    orchestrate: Any, components: dict[str, int]
) -> None:
    client, _ = orchestrate(unit("doubler", components["Doubler"]), timeout=1e-6)
    reply = await client.post("/api/v1.0/predictions", json={"data": {"ndarray": [[1]]}})
    assert reply.status_code == 504
    assert reply.json()["status"]["reason"] == "UNIT_TIMEOUT"


async def test_bad_requests_are_seldon_400s(orchestrate: Any, components: dict[str, int]) -> None:
    client, _ = orchestrate(unit("doubler", components["Doubler"]))
    reply = await client.post("/api/v1.0/predictions", content=b"{not json")
    assert reply.status_code == 400
    assert set(reply.json()["status"]) == {"code", "info", "reason", "status"}
    reply = await client.post("/api/v1.0/predictions", json={"data": {"ndarray": "nope"}})
    assert reply.status_code == 400  # the component's own Seldon error, passed on
    assert reply.json()["status"]["status"] == "FAILURE"
    assert (await client.get("/api/v1.0/nothing")).status_code == 404


def test_graph_json_problems_name_the_path() -> None:
    with pytest.raises(SeldonGraphError, match=r"graph.children\[0\]: unit 'm' has no endpoint"):
        router = {"name": "r", "implementation": "SIMPLE_ROUTER", "children": [{"name": "m"}]}
        load_seldon_json(json.dumps({"graph": router}))
    with pytest.raises(SeldonGraphError, match="n_branches is 3"):
        bandit = {"name": "b", "bandit": {"strategy": "ThompsonSampling", "n_branches": 3}, "children": []}
        load_seldon_json(json.dumps({"graph": bandit}))


def _doubled(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", trust_env=False).text
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if "doubled" in line and not line.startswith("#")
    ]
    return sum(values)


async def test_shadow_gets_a_copy(orchestrate: Any, components: dict[str, int]) -> None:
    shadow = f"http://127.0.0.1:{components['Doubler']}"
    client, _ = orchestrate(unit("adder", components["Adder"]), shadows=[shadow])
    before = _doubled(components["Doubler"])
    reply = await client.post("/api/v1.0/predictions", json={"data": {"ndarray": [[1.0]]}})
    assert reply.json()["data"]["ndarray"] == [[2.0]]  # the live graph's answer
    await wait_until_async(lambda: _doubled(components["Doubler"]) > before, 10, what="the shadow's copy")


async def test_answers_follow_the_engine_api(
    orchestrate: Any, components: dict[str, int], shared_specs: Path
) -> None:
    import jsonschema

    engine = json.loads((shared_specs / "seldon" / "engine.oas3.json").read_text())

    def check(doc: Any, name: str) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": engine["components"]}
        jsonschema.Draft4Validator(schema).validate(doc)

    graph = unit(
        "picker",
        components["Picker"],
        type="ROUTER",
        children=[unit("doubler", components["Doubler"]), unit("adder", components["Adder"])],
    )
    client, _ = orchestrate(graph)
    request = {"data": {"names": ["a", "b"], "ndarray": [[0, 1]]}, "meta": {"tags": {"client": "t"}}}
    check(request, "SeldonMessage")
    answer = (await client.post("/seldon/ns/d/api/v1.0/predictions", json=request)).json()
    check(answer, "SeldonMessage")
    feedback = {"request": request, "response": answer, "reward": 1.0}
    check(feedback, "Feedback")
    reply = await client.post("/seldon/ns/d/api/v1.0/feedback", json=feedback)
    check(reply.json(), "SeldonMessage")
    failure = (await client.post("/seldon/ns/d/api/v1.0/predictions", content=b"[")).json()
    check(failure, "SeldonMessage")


def test_cli_refuses_a_bad_graph_with_one_line() -> None:
    import subprocess
    import sys

    bad = json.dumps({"graph": {"name": "m"}})
    done = subprocess.run(
        [sys.executable, "-m", "zeroserve", "router", "--seldon-json", bad],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "invalid seldon graph: graph: unit 'm' has no endpoint.service_host"
