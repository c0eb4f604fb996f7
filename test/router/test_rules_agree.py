"""The controller and the router agree on every graph: the same YAML is valid for both or for neither.

Each graph of the table goes through the controller's steps (parse the API types, apply the defaults,
``validate_inference_graph``, as ``InferenceGraphReconciler`` does), through the API server's
admission, and through the router's planner; the verdicts and the reported problems must be the same.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from zeroserve.apis.admission import admit
from zeroserve.apis.field_errors import InvalidObjectError, from_pydantic
from zeroserve.apis.serving.v1alpha1.defaults import default_inference_graph
from zeroserve.apis.serving.v1alpha1.types import (
    BANDIT_ANNOTATION,
    BANDIT_STRATEGIES,
    ROUTER_TYPES,
    InferenceGraph,
)
from zeroserve.apis.serving.v1alpha1.validation import validate_inference_graph
from zeroserve.controller.resources.inference_graph import graph_json, referenced_services
from zeroserve.router.errors import GraphPlanError
from zeroserve.router.plan import BanditStrategy, RouterType
from zeroserve.router.planner import load_graph_json, plan_graph

URL = "http://model.default.svc.cluster.local/v1/models/model:predict"


def graph(nodes: dict[str, Any], annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "g", "namespace": "default"}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": metadata,
        "spec": {"nodes": nodes, **spec},
    }


def node(router_type: str, *steps: Any) -> dict[str, Any]:
    return {"routerType": router_type, "steps": list(steps)}


def bandit(settings: Any) -> dict[str, str]:
    return {BANDIT_ANNOTATION: settings if isinstance(settings, str) else orjson.dumps(settings).decode()}


SPLIT = node(
    "Splitter",
    {"name": "a", "serviceUrl": URL, "weight": 40},
    {"name": "b", "serviceName": "b", "weight": 60},
)

GOOD: list[tuple[str, dict[str, Any]]] = [
    (
        "sequence",
        graph({"root": node("Sequence", {"serviceName": "a"}, {"serviceUrl": URL, "data": "$response"})}),
    ),
    (
        "switch",
        graph(
            {
                "root": node(
                    "Switch",
                    {"serviceUrl": URL, "condition": "[@this].#(instances.0.0>6.5)"},
                    {"serviceUrl": URL, "condition": 'instances.#(topic%"new*")#'},
                )
            }
        ),
    ),
    (
        "ensemble-of-nodes",
        graph(
            {
                "root": node("Ensemble", {"name": "x", "nodeName": "n"}),
                "n": node("Sequence", {"serviceUrl": URL}),
            }
        ),
    ),
    ("splitter", graph({"root": SPLIT})),
    ("bandit", graph({"root": SPLIT}, bandit({"root": {"strategy": "ThompsonSampling", "seed": 3}}))),
    ("epsilon-greedy", graph({"root": SPLIT}, bandit({"root": {"strategy": "EpsilonGreedy", "epsilon": 0}}))),
    (
        "timeouts",
        graph(
            {"root": node("Sequence", {"serviceUrl": URL, "dependency": "Hard"})},
            timeout=0,
            routerTimeouts={"serviceClient": 5, "serverIdle": 0},
            minReplicas=0,
            maxReplicas=3,
        ),
    ),
    (
        "https-url",
        graph({"root": node("Sequence", {"serviceUrl": "https://example.com/v1/models/m:predict"})}),
    ),
]

BAD: list[tuple[str, dict[str, Any]]] = [
    ("no-root", graph({"main": node("Sequence", {"serviceUrl": URL})})),
    ("no-nodes", graph({})),
    ("missing-node", graph({"root": node("Sequence", {"nodeName": "nowhere"})})),
    (
        "cycle",
        graph({"root": node("Sequence", {"nodeName": "a"}), "a": node("Ensemble", {"nodeName": "root"})}),
    ),
    ("weights-90", graph({"root": node("Splitter", {"serviceUrl": URL, "weight": 90})})),
    (
        "weight-missing",
        graph({"root": node("Splitter", {"serviceUrl": URL, "weight": 100}, {"serviceUrl": URL})}),
    ),
    ("weight-101", graph({"root": node("Splitter", {"serviceUrl": URL, "weight": 101})})),
    ("weight-on-sequence", graph({"root": node("Sequence", {"serviceUrl": URL, "weight": 100})})),
    ("switch-no-condition", graph({"root": node("Switch", {"serviceUrl": URL})})),
    ("malformed-gjson", graph({"root": node("Switch", {"serviceUrl": URL, "condition": "a.#(b=="})})),
    ("unknown-modifier", graph({"root": node("Switch", {"serviceUrl": URL, "condition": "@nope"})})),
    ("data", graph({"root": node("Sequence", {"serviceUrl": URL, "data": "$input"})})),
    ("dependency", graph({"root": node("Sequence", {"serviceUrl": URL, "dependency": "Strong"})})),
    ("two-targets", graph({"root": node("Sequence", {"nodeName": "root", "serviceUrl": URL})})),
    ("no-target", graph({"root": node("Sequence", {"name": "x"})})),
    ("relative-url", graph({"root": node("Sequence", {"serviceUrl": "/v1/models/a:predict"})})),
    ("ftp-url", graph({"root": node("Sequence", {"serviceUrl": "ftp://host/model"})})),
    (
        "duplicate-names",
        graph({"root": node("Ensemble", {"name": "x", "serviceUrl": URL}, {"name": "x", "serviceUrl": URL})}),
    ),
    ("router-type", graph({"root": node("Pipeline", {"serviceUrl": URL})})),
    ("no-steps", graph({"root": node("Sequence")})),
    ("negative-timeout", graph({"root": node("Sequence", {"serviceUrl": URL})}, timeout=-1)),
    (
        "negative-client-timeout",
        graph({"root": node("Sequence", {"serviceUrl": URL})}, routerTimeouts={"serviceClient": -5}),
    ),
    ("fractional-timeout", graph({"root": node("Sequence", {"serviceUrl": URL})}, timeout=0.5)),
    ("replicas", graph({"root": node("Sequence", {"serviceUrl": URL})}, minReplicas=3, maxReplicas=1)),
    ("weight-type", graph({"root": node("Splitter", {"serviceUrl": URL, "weight": "all"})})),
    ("step-type", graph({"root": node("Sequence", "step")})),
    (
        "bad-name",
        {**graph({"root": node("Sequence", {"serviceUrl": URL})}), "metadata": {"name": "Bad_Name"}},
    ),
    ("bandit-json", graph({"root": SPLIT}, bandit("{not json"))),
    ("bandit-list", graph({"root": SPLIT}, bandit(["root"]))),
    ("bandit-node", graph({"root": SPLIT}, bandit({"other": {"strategy": "ThompsonSampling"}}))),
    (
        "bandit-on-sequence",
        graph(
            {"root": node("Sequence", {"serviceUrl": URL})},
            bandit({"root": {"strategy": "ThompsonSampling"}}),
        ),
    ),
    ("bandit-strategy", graph({"root": SPLIT}, bandit({"root": {"strategy": "UCB"}}))),
    (
        "bandit-epsilon",
        graph({"root": SPLIT}, bandit({"root": {"strategy": "EpsilonGreedy", "epsilon": 1.5}})),
    ),
    ("bandit-seed", graph({"root": SPLIT}, bandit({"root": {"strategy": "EpsilonGreedy", "seed": "x"}}))),
]


def controller_problems(document: dict[str, Any]) -> list[str]:
    """What the controller reports (``InferenceGraphReconciler.reconcile``'s steps)."""
    try:
        parsed = default_inference_graph(InferenceGraph.from_dict(copy.deepcopy(document)))
    except ValidationError as exc:
        return [str(error) for error in from_pydantic(exc)]
    return [str(error) for error in validate_inference_graph(parsed)]


def admission_problems(document: dict[str, Any]) -> list[str]:
    """What the API server answers (its admission step)."""
    try:
        admit(copy.deepcopy(document))
    except InvalidObjectError as exc:
        return [str(error) for error in exc.errors]
    return []


def router_problems(document: dict[str, Any]) -> list[str]:
    """What ``zeroserve router`` reports for the same document."""
    try:
        plan_graph(copy.deepcopy(document))
    except GraphPlanError as exc:
        return [str(issue) for issue in exc.issues]
    return []


@pytest.mark.parametrize("document", [case[1] for case in GOOD], ids=[case[0] for case in GOOD])
def test_good_graphs_are_valid_for_controller_admission_and_router(document: dict[str, Any]) -> None:
    assert controller_problems(document) == []
    assert admission_problems(document) == []
    assert router_problems(document) == []


@pytest.mark.parametrize("document", [case[1] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_graphs_are_refused_alike_with_the_same_problems(document: dict[str, Any]) -> None:
    expected = controller_problems(document)
    assert expected, "the table's bad graph must be refused"
    assert admission_problems(document) == expected
    assert router_problems(document) == expected


@pytest.mark.parametrize("document", [case[1] for case in GOOD], ids=[case[0] for case in GOOD])
def test_the_controllers_router_argument_plans(document: dict[str, Any]) -> None:
    """``--graph-json`` as the controller writes it (a bare spec, ``serviceName`` resolved to a URL,
    or the whole object when it has bandits) is always a graph the router runs."""
    parsed = default_inference_graph(InferenceGraph.from_dict(copy.deepcopy(document)))
    urls = {
        name: f"http://{name}.default.svc.cluster.local/v2/models/{name}/infer"
        for name in referenced_services(parsed)
    }
    planned = load_graph_json(graph_json(parsed, urls), namespace="default")
    step_urls = {step.url for n in planned.nodes.values() for step in n.steps if step.url}
    assert set(urls.values()) <= step_urls
    assert bool(planned.root.bandit) == (BANDIT_ANNOTATION in document["metadata"].get("annotations", {}))


def test_the_plans_enums_name_what_the_api_types_allow() -> None:
    assert {t.value for t in RouterType} == set(ROUTER_TYPES)
    assert {s.value for s in BanditStrategy} == set(BANDIT_STRATEGIES)
