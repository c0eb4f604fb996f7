"""InferenceGraph: defaults, validation (every rule with its path) and the bandit annotation.

Every input is also checked against KServe's InferenceGraph CRD schema (``schema_ok``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from zeroserve.apis.knative.serving.v1.types import ServiceStatus
from zeroserve.apis.serving.v1alpha1 import lifecycle
from zeroserve.apis.serving.v1alpha1.defaults import default_inference_graph
from zeroserve.apis.serving.v1alpha1.types import BANDIT_ANNOTATION, InferenceGraph
from zeroserve.apis.serving.v1alpha1.validation import bandit_nodes, validate_inference_graph

from .conftest import Validate


def _graph(nodes: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": "graph", "namespace": "default"},
        "spec": {"nodes": nodes, **spec},
    }


def _seq(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"routerType": "Sequence", "steps": list(steps)}


def _split(*weights: int | None) -> dict[str, Any]:
    steps = []
    for index, weight in enumerate(weights):
        step: dict[str, Any] = {"name": f"s{index}", "serviceName": f"m{index}"}
        if weight is not None:
            step["weight"] = weight
        steps.append(step)
    return {"routerType": "Splitter", "steps": steps}


ROOT = "spec.nodes[root]"
ONE_TARGET = "exactly one of [nodeName, serviceName, serviceUrl] must be specified"

# (id, graph, expected errors, accepted by KServe's CRD schema)
CASES: list[tuple[str, dict[str, Any], list[str], bool]] = [
    (
        "sequence",
        _graph({"root": _seq({"serviceName": "a"}, {"serviceUrl": "http://b/v1", "data": "$response"})}),
        [],
        True,
    ),
    ("splitter-100", _graph({"root": _split(70, 30)}), [], True),
    (
        "ensemble",
        _graph({"root": {"routerType": "Ensemble", "steps": [{"serviceName": "a"}, {"serviceName": "b"}]}}),
        [],
        True,
    ),
    (
        "switch",
        _graph(
            {"root": {"routerType": "Switch", "steps": [{"serviceName": "a", "condition": "instances.0"}]}}
        ),
        [],
        True,
    ),
    (
        "nested-nodes",
        _graph({"root": _seq({"nodeName": "split"}), "split": _split(50, 50)}),
        [],
        True,
    ),
    (
        "no-root",
        _graph({"main": _seq({"serviceName": "a"})}),
        [
            "spec.nodes: root node not found, InferenceGraph needs a node with name 'root' as the root node "
            "of the graph"
        ],
        True,
    ),
    (
        "name-invalid",
        {**_graph({"root": _seq({"serviceName": "a"})}), "metadata": {"name": "My_Graph"}},
        [
            "metadata.name: must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character (regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')"
        ],
        True,
    ),
    (
        "router-type-unknown",
        _graph({"root": {"routerType": "Bandit", "steps": [{"serviceName": "a"}]}}),
        [f"{ROOT}.routerType: must be one of Sequence, Splitter, Ensemble, Switch"],
        False,
    ),
    (
        "no-steps",
        _graph({"root": {"routerType": "Sequence"}}),
        [f"{ROOT}.steps: must have at least one step"],
        True,
    ),
    (
        "splitter-sum-not-100",
        _graph({"root": _split(50, 40)}),
        [f"{ROOT}.steps: splitter node: the sum of traffic weights for all routing targets should be 100"],
        True,
    ),
    (
        "splitter-weight-missing",
        _graph({"root": _split(100, None)}),
        [f"{ROOT}.steps[1].weight: is required for a Splitter step"],
        True,
    ),
    (
        "splitter-weight-out-of-range",
        _graph({"root": _split(150, -50)}),
        [
            f"{ROOT}.steps[0].weight: must be between 0 and 100",
            f"{ROOT}.steps[1].weight: must be between 0 and 100",
            f"{ROOT}.steps: splitter node: the sum of traffic weights for all routing targets should be 100",
        ],
        True,
    ),
    (
        "weight-outside-splitter",
        _graph({"root": _seq({"serviceName": "a", "weight": 100})}),
        [f"{ROOT}.steps[0].weight: is allowed only in a Splitter node"],
        True,
    ),
    (
        "duplicate-step-names",
        _graph({"root": _seq({"name": "x", "serviceName": "a"}, {"name": "x", "serviceName": "b"})}),
        [f"{ROOT}.steps[1].name: duplicate step name 'x'"],
        True,
    ),
    ("no-target", _graph({"root": _seq({"name": "x"})}), [f"{ROOT}.steps[0]: {ONE_TARGET}"], True),
    (
        "two-targets",
        _graph({"root": _seq({"serviceName": "a", "serviceUrl": "http://a"})}),
        [f"{ROOT}.steps[0]: {ONE_TARGET}"],
        True,
    ),
    (
        "node-name-missing",
        _graph({"root": _seq({"nodeName": "nowhere"})}),
        [f"{ROOT}.steps[0].nodeName: node 'nowhere' does not exist"],
        True,
    ),
    (
        "service-url-relative",
        _graph({"root": _seq({"serviceUrl": "/v1/models/a"})}),
        [f"{ROOT}.steps[0].serviceUrl: must be an absolute http(s) URL"],
        True,
    ),
    (
        "service-url-not-http",
        _graph({"root": _seq({"serviceUrl": "ftp://host/models/a"})}),
        [f"{ROOT}.steps[0].serviceUrl: must be an absolute http(s) URL"],
        True,
    ),
    (
        "condition-malformed-gjson",
        _graph({"root": {"routerType": "Switch", "steps": [{"serviceName": "a", "condition": "a.#(b=="}]}}),
        [f"{ROOT}.steps[0].condition: invalid GJSON path 'a.#(b==': unclosed '(' (at character 3)"],
        True,
    ),
    (
        "condition-gjson",
        _graph(
            {"root": {"routerType": "Switch", "steps": [{"serviceName": "a", "condition": "[@this].#(x>1)"}]}}
        ),
        [],
        True,
    ),
    (
        "data-invalid",
        _graph({"root": _seq({"serviceName": "a", "data": "$input"})}),
        [f"{ROOT}.steps[0].data: must be $request or $response"],
        True,
    ),
    (
        "dependency-invalid",
        _graph({"root": _seq({"serviceName": "a", "dependency": "Strong"})}),
        [f"{ROOT}.steps[0].dependency: must be Soft or Hard"],
        False,
    ),
    (
        "switch-without-condition",
        _graph({"root": {"routerType": "Switch", "steps": [{"serviceName": "a"}]}}),
        [f"{ROOT}.steps[0].condition: is required for a Switch step"],
        True,
    ),
    (
        "cycle",
        _graph({"root": _seq({"nodeName": "a"}), "a": _seq({"nodeName": "b"}), "b": _seq({"nodeName": "a"})}),
        ["spec.nodes: the graph has a cycle: a -> b -> a"],
        True,
    ),
    (
        "self-loop",
        _graph({"root": _seq({"nodeName": "root"})}),
        ["spec.nodes: the graph has a cycle: root -> root"],
        True,
    ),
    (
        "scaling",
        _graph({"root": _seq({"serviceName": "a"})}, minReplicas=4, maxReplicas=2, scaleMetric="cpu"),
        [
            "spec.minReplicas: must be <= maxReplicas",
            "spec.scaleMetric: metric cpu needs the annotation autoscaling.knative.dev/class: "
            "hpa.autoscaling.knative.dev (the default autoscaler, KPA, supports concurrency and rps)",
        ],
        True,
    ),
    (
        "timeouts-negative",
        _graph(
            {"root": _seq({"serviceName": "a"})},
            timeout=-1,
            routerTimeouts={"serverRead": -1, "serviceClient": 5},
        ),
        ["spec.timeout: must be >= 0", "spec.routerTimeouts.serverRead: must be >= 0"],
        True,
    ),
]


@pytest.mark.parametrize(("graph", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_validation_errors(graph: dict[str, Any], expected: list[str]) -> None:
    parsed = default_inference_graph(InferenceGraph.from_dict(graph))
    assert [str(error) for error in validate_inference_graph(parsed)] == expected


def test_input_against_kserve_crd(reference_schema: dict[str, Validate], subtests: pytest.Subtests) -> None:
    for name, graph, _, schema_ok in CASES:
        with subtests.test(msg=name):
            errors = reference_schema["InferenceGraph"](graph)
            assert (errors == []) is schema_ok, errors


def test_defaults() -> None:
    graph = _graph({"root": _seq({"serviceName": "a"}, {"serviceName": "b", "dependency": "Hard"})})
    parsed = InferenceGraph.from_dict(copy.deepcopy(graph))
    defaulted = default_inference_graph(parsed).to_dict()
    assert parsed.to_dict() == graph
    assert defaulted["spec"] == {
        "nodes": {
            "root": {
                "routerType": "Sequence",
                "steps": [
                    {"serviceName": "a", "dependency": "Soft"},
                    {"serviceName": "b", "dependency": "Hard"},
                ],
            }
        },
        "minReplicas": 1,
    }
    keep_zero = default_inference_graph(
        InferenceGraph.from_dict(_graph({"root": _seq({"serviceName": "a"})}, minReplicas=0))
    )
    assert keep_zero.spec.min_replicas == 0


def _bandit_graph(annotation: Any) -> InferenceGraph:
    graph = _graph({"root": _split(50, 50), "seq": _seq({"serviceName": "a"})})
    graph["metadata"]["annotations"] = {
        BANDIT_ANNOTATION: annotation if isinstance(annotation, str) else json.dumps(annotation)
    }
    return InferenceGraph.from_dict(graph)


PATH = f"metadata.annotations[{BANDIT_ANNOTATION}]"

# (id, annotation value, expected errors)
BANDIT_CASES: list[tuple[str, Any, list[str]]] = [
    ("epsilon-greedy", {"root": {"strategy": "EpsilonGreedy", "epsilon": 0.2}}, []),
    ("thompson", {"root": {"strategy": "ThompsonSampling", "seed": 7}}, []),
    (
        "not-json",
        "{root",
        [
            f"{PATH}: must be a JSON object: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)"
        ],
    ),
    ("not-an-object", ["root"], [f"{PATH}: must be a JSON object from node name to bandit settings"]),
    (
        "unknown-node",
        {"other": {"strategy": "EpsilonGreedy"}},
        [f"{PATH}[other]: node 'other' does not exist"],
    ),
    (
        "not-a-splitter",
        {"seq": {"strategy": "EpsilonGreedy"}},
        [f"{PATH}[seq]: a bandit node must have routerType Splitter"],
    ),
    (
        "unknown-strategy",
        {"root": {"strategy": "UCB"}},
        [f"{PATH}[root].strategy: must be one of EpsilonGreedy, ThompsonSampling"],
    ),
    (
        "epsilon-out-of-range",
        {"root": {"strategy": "EpsilonGreedy", "epsilon": 1.5}},
        [f"{PATH}[root].epsilon: must be between 0 and 1"],
    ),
    ("strategy-missing", {"root": {"epsilon": 0.1}}, [f"{PATH}[root].strategy: Field required"]),
]


@pytest.mark.parametrize(
    ("annotation", "expected"), [c[1:] for c in BANDIT_CASES], ids=[c[0] for c in BANDIT_CASES]
)
def test_bandit_annotation(annotation: Any, expected: list[str]) -> None:
    graph = _bandit_graph(annotation)
    assert [str(e) for e in validate_inference_graph(graph)] == expected
    if expected:
        with pytest.raises(ValueError):
            bandit_nodes(graph)
    else:
        assert set(bandit_nodes(graph)) == {"root"}


def test_bandit_annotations_are_accepted_by_kserve_crd(
    reference_schema: dict[str, Validate], subtests: pytest.Subtests
) -> None:
    """KServe's CRD keeps any annotation: the bandit settings are ours to validate."""
    for name, annotation, _ in BANDIT_CASES:
        with subtests.test(msg=name):
            assert reference_schema["InferenceGraph"](_bandit_graph(annotation).to_dict()) == []


def test_bandit_nodes_parsed() -> None:
    bandits = bandit_nodes(_bandit_graph({"root": {"strategy": "EpsilonGreedy", "epsilon": 0.2, "seed": 3}}))
    assert (bandits["root"].strategy, bandits["root"].epsilon, bandits["root"].seed) == (
        "EpsilonGreedy",
        0.2,
        3,
    )
    assert bandit_nodes(InferenceGraph.from_dict(_graph({"root": _split(100)}))) == {}


def test_step_targets() -> None:
    graph = InferenceGraph.from_dict(_graph({"root": _seq({"serviceName": "a", "nodeName": "b"})}))
    steps = graph.spec.nodes["root"].steps or []
    assert steps[0].targets() == {"nodeName": "b", "serviceName": "a"}


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 1, 1, tzinfo=UTC)


def test_lifecycle_ready_needs_router_and_services() -> None:
    graph = InferenceGraph.from_dict(_graph({"root": _seq({"serviceName": "a"})}))
    lifecycle.propagate_router_status(graph, None, _now)
    lifecycle.mark_services_not_ready(graph, ["a"], _now)
    assert graph.status is not None and not graph.status.is_ready()
    services = graph.status.get_condition("ServicesReady")
    assert services is not None and services.message == "waiting for InferenceServices: a"
    ksvc = ServiceStatus.from_dict(
        {"url": "http://graph.default.example.com", "conditions": [{"type": "Ready", "status": "True"}]}
    )
    lifecycle.propagate_router_status(graph, ksvc, _now)
    assert not graph.status.is_ready()
    lifecycle.mark_services_ready(graph, _now)
    assert graph.status.is_ready()
    assert graph.status.url == "http://graph.default.example.com"
