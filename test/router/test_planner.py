"""The planner: valid graphs become executable graphs; invalid ones report every issue with its path."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from zeroserve.router.errors import GraphPlanError
from zeroserve.router.plan import BanditStrategy, Dependency, RouterType, StepInput
from zeroserve.router.planner import BANDITS_ANNOTATION, load_graph_json, plan_graph

URL = "http://model.default.svc.cluster.local/v1/models/model:predict"


def spec(*steps: dict[str, Any], router_type: str = "Sequence", **nodes: Any) -> dict[str, Any]:
    return {"nodes": {"root": {"routerType": router_type, "steps": list(steps)}, **nodes}}


ONE_TARGET = "exactly one of [nodeName, serviceName, serviceUrl] must be specified"
WEIGHTS_SUM = "splitter node: the sum of traffic weights for all routing targets should be 100"


def all_issues(document: dict[str, Any]) -> list[str]:
    with pytest.raises(GraphPlanError) as info:
        plan_graph(document)
    return [str(issue) for issue in info.value.issues]


def issues(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(GraphPlanError) as info:
        plan_graph(document)
    return {i.path: i.message for i in info.value.issues}


def test_a_sequence_is_planned_with_kserve_defaults() -> None:
    graph = plan_graph(spec({"name": "a", "serviceUrl": URL}, {"serviceUrl": URL, "data": "$response"}))
    first, second = graph.root.steps
    assert graph.root.router_type is RouterType.SEQUENCE
    assert (first.key, first.url, first.data, first.dependency) == (
        "a",
        URL,
        StepInput.REQUEST,
        Dependency.SOFT,
    )
    assert (second.key, second.data) == ("1", StepInput.RESPONSE)
    assert graph.timeout is None and graph.step_timeout is None


def test_service_name_resolves_to_the_isvc_predict_url_in_the_graph_namespace() -> None:
    document = {
        "metadata": {"name": "g", "namespace": "team"},
        "spec": spec({"serviceName": "iris"}),
    }
    graph = plan_graph(document, namespace="ignored")
    assert graph.root.steps[0].url == "http://iris.team.svc.cluster.local/v1/models/iris:predict"
    assert (graph.name, graph.namespace) == ("g", "team")
    bare = plan_graph(spec({"serviceName": "iris"}), namespace="ns1")
    assert bare.root.steps[0].url == "http://iris.ns1.svc.cluster.local/v1/models/iris:predict"


def test_a_service_url_resolved_by_the_controller_wins_over_service_name() -> None:
    graph = plan_graph(spec({"serviceName": "iris", "serviceUrl": URL}))
    assert graph.root.steps[0].url == URL


def test_timeouts_are_read_from_the_spec() -> None:
    document = spec({"serviceUrl": URL})
    document["timeout"] = 30
    document["routerTimeouts"] = {"serviceClient": 5, "serverIdle": 60}
    graph = plan_graph(document)
    assert (graph.timeout, graph.step_timeout, graph.idle_timeout) == (30.0, 5.0, 60.0)


def test_every_issue_is_reported_with_its_path() -> None:
    document = {
        "nodes": {
            "root": {
                "routerType": "Sequence",
                "steps": [
                    {"name": "a", "serviceUrl": URL},
                    {"name": "a", "serviceUrl": URL},
                    {"name": "b"},
                    {"name": "c", "nodeName": "split", "serviceUrl": URL},
                    {"name": "d", "nodeName": "missing"},
                    {"name": "e", "serviceUrl": "not a url"},
                    {"name": "f", "serviceUrl": URL, "condition": "predictions.#(x>"},
                    {"name": "g", "serviceUrl": URL, "dependency": "Maybe"},
                ],
            },
            "split": {
                "routerType": "Splitter",
                "steps": [{"serviceUrl": URL, "weight": 60}, {"serviceUrl": URL}],
            },
            "split2": {
                "routerType": "Splitter",
                "steps": [{"serviceUrl": URL, "weight": 60}, {"serviceUrl": URL, "weight": 30}],
            },
            "weird": {"routerType": "Pipeline", "steps": [{"serviceUrl": URL}]},
            "empty": {"routerType": "Ensemble", "steps": []},
        },
        "timeout": -1,
    }
    assert all_issues(document) == [
        "spec.nodes[root].steps[1].name: duplicate step name 'a'",
        f"spec.nodes[root].steps[2]: {ONE_TARGET}",
        f"spec.nodes[root].steps[3]: {ONE_TARGET}",
        "spec.nodes[root].steps[4].nodeName: node 'missing' does not exist",
        "spec.nodes[root].steps[5].serviceUrl: must be an absolute http(s) URL",
        "spec.nodes[root].steps[6].condition: invalid GJSON path 'predictions.#(x>': "
        "unclosed '(' (at character 13)",
        "spec.nodes[root].steps[7].dependency: must be Soft or Hard",
        "spec.nodes[split].steps[1].weight: is required for a Splitter step",
        f"spec.nodes[split].steps: {WEIGHTS_SUM}",
        f"spec.nodes[split2].steps: {WEIGHTS_SUM}",
        "spec.nodes[weird].routerType: must be one of Sequence, Splitter, Ensemble, Switch",
        "spec.nodes[empty].steps: must have at least one step",
        "spec.timeout: must be >= 0",
    ]


def test_field_types_are_checked_by_the_api_types() -> None:
    document = spec({"serviceUrl": URL, "mapPredictionsToInstances": [1]}, "not a step")
    assert all_issues(document) == [
        "spec.nodes.root.steps[0].mapPredictionsToInstances: Input should be a valid boolean",
        "spec.nodes.root.steps[1]: Input should be a valid dictionary or instance of InferenceStep",
    ]


def test_zero_timeouts_mean_none_as_in_go() -> None:
    document = spec({"serviceUrl": URL})
    document["timeout"] = 0
    document["routerTimeouts"] = {"serviceClient": 0, "serverIdle": 0}
    graph = plan_graph(document)
    assert (graph.timeout, graph.step_timeout, graph.idle_timeout) == (None, None, None)


def test_a_graph_without_root_or_nodes_is_rejected() -> None:
    assert issues({"nodes": {"other": {"routerType": "Sequence", "steps": [{"serviceUrl": URL}]}}}) == {
        "spec.nodes": "root node not found, InferenceGraph needs a node with name 'root' as the root node "
        "of the graph"
    }
    assert issues({}) == {"spec.nodes": "Field required"}


def test_cycles_through_node_names_are_rejected() -> None:
    document = spec(
        {"nodeName": "a"},
        a={"routerType": "Sequence", "steps": [{"nodeName": "b"}]},
        b={"routerType": "Ensemble", "steps": [{"nodeName": "a"}]},
    )
    assert issues(document) == {"spec.nodes": "the graph has a cycle: a -> b -> a"}


def test_valid_fields_without_effect_are_warnings() -> None:
    graph = plan_graph(
        {
            "nodes": {
                "root": {
                    "routerType": "Sequence",
                    "steps": [
                        {"serviceUrl": URL, "data": "$response", "condition": "instances"},
                        {"serviceUrl": URL, "data": "$response"},
                    ],
                },
                "both": {"routerType": "Ensemble", "steps": [{"serviceUrl": URL, "condition": "x"}]},
            }
        }
    )
    assert [str(w) for w in graph.warnings] == [
        "spec.nodes[root].steps[0].condition: a condition on a Sequence's first step always fails with 500",
        "spec.nodes[root].steps[0].data: $response on a first step means $request",
        "spec.nodes[both].steps[0].condition: ignored by a Ensemble node",
    ]
    assert graph.root.steps[1].data is StepInput.RESPONSE


def test_fields_kserve_ignores_but_the_api_refuses_are_errors() -> None:
    """What the router once accepted with a warning, the controller refused: now both refuse it."""
    document = {
        "nodes": {
            "root": {
                "routerType": "Sequence",
                "steps": [{"serviceUrl": URL, "weight": 5}, {"serviceUrl": URL, "data": "$response.x"}],
            },
            "sw": {"routerType": "Switch", "steps": [{"serviceUrl": URL}]},
        }
    }
    assert all_issues(document) == [
        "spec.nodes[root].steps[0].weight: is allowed only in a Splitter node",
        "spec.nodes[root].steps[1].data: must be $request or $response",
        "spec.nodes[sw].steps[0].condition: is required for a Switch step",
    ]


def bandit_graph(annotation: Any, router_type: str = "Splitter") -> dict[str, Any]:
    steps = [{"name": "a", "serviceUrl": URL, "weight": 30}, {"name": "b", "serviceUrl": URL, "weight": 70}]
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": "g", "annotations": {BANDITS_ANNOTATION: orjson.dumps(annotation).decode()}},
        "spec": {"nodes": {"root": {"routerType": router_type, "steps": steps}}},
    }


def test_the_bandit_annotation_turns_a_splitter_into_a_bandit() -> None:
    graph = plan_graph(bandit_graph({"root": {"strategy": "EpsilonGreedy", "epsilon": 0.2, "seed": 3}}))
    bandit = graph.root.bandit
    assert bandit is not None
    assert (bandit.strategy, bandit.epsilon, bandit.seed) == (BanditStrategy.EPSILON_GREEDY, 0.2, 3)


def test_unknown_bandit_fields_are_a_warning_and_epsilon_defaults_to_a_tenth() -> None:
    graph = plan_graph(bandit_graph({"root": {"strategy": "EpsilonGreedy", "alpha": 2}}))
    assert graph.root.bandit is not None and graph.root.bandit.epsilon == 0.1
    assert [str(w) for w in graph.warnings] == [
        f"metadata.annotations[{BANDITS_ANNOTATION}][root]: unknown fields ignored: ['alpha']"
    ]


@pytest.mark.parametrize(
    ("annotation", "router_type", "path", "message"),
    [
        ({"root": {"strategy": "UCB"}}, "Splitter", "[root].strategy", "must be one of"),
        (
            {"root": {"strategy": "EpsilonGreedy", "epsilon": 2}},
            "Splitter",
            "[root].epsilon",
            "between 0 and 1",
        ),
        ({"root": {"strategy": "ThompsonSampling", "seed": "x"}}, "Splitter", "[root].seed", "integer"),
        ({"nope": {"strategy": "ThompsonSampling"}}, "Splitter", "[nope]", "node 'nope' does not exist"),
        ({"root": {"strategy": "ThompsonSampling"}}, "Ensemble", "[root]", "must have routerType Splitter"),
        (["root"], "Splitter", "", "must be a JSON object"),
    ],
)
def test_bad_bandit_annotations_are_rejected(
    annotation: Any, router_type: str, path: str, message: str
) -> None:
    found = issues(bandit_graph(annotation, router_type))
    key = f"metadata.annotations[{BANDITS_ANNOTATION}]{path}"
    assert message in found[key]


def test_graph_json_errors_are_plan_errors() -> None:
    with pytest.raises(GraphPlanError, match="graph-json: not valid JSON"):
        load_graph_json("{nope")
    with pytest.raises(GraphPlanError, match="must be a JSON object"):
        load_graph_json("[]")
    assert load_graph_json(orjson.dumps(spec({"serviceUrl": URL}))).root.steps[0].url == URL
