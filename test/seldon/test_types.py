"""SeldonDeployment types, defaults, validation and admission; our CRD against Seldon's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from zeroserve.apis.admission import admit
from zeroserve.apis.crds import all_crds
from zeroserve.apis.field_errors import InvalidObjectError
from zeroserve.apis.seldon import SeldonDeployment
from zeroserve.apis.seldon.defaults import default_seldon_deployment
from zeroserve.apis.seldon.lifecycle import deployment_status

SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples" / "seldon"


def sdep(
    graph: dict[str, Any], containers: list[dict[str, Any]] | None = None, **predictor: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": "default", "graph": graph, **predictor}
    if containers is not None:
        spec["componentSpecs"] = [{"spec": {"containers": containers}}]
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "demo", "namespace": "default"},
        "spec": {"predictors": [spec]},
    }


def errors(doc: dict[str, Any]) -> list[str]:
    try:
        admit(doc)
    except InvalidObjectError as exc:
        return [str(e) for e in exc.errors]
    return []


def test_samples_are_valid_and_defaulted() -> None:
    for path in sorted(SAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc.get("kind") != "SeldonDeployment":
                continue
            stored = admit(doc)
            assert stored["spec"]["predictors"][0]["graph"]["type"], path
            assert (
                sum(p.get("traffic", 0) for p in stored["spec"]["predictors"] if not p.get("shadow")) == 100
            )


def test_defaults_follow_the_implementation() -> None:
    doc = sdep(
        {
            "name": "r",
            "implementation": "RANDOM_ABTEST",
            "children": [
                {"name": "a", "implementation": "SKLEARN_SERVER", "modelUri": "gs://a"},
                {
                    "name": "b",
                    "implementation": "AVERAGE_COMBINER",
                    "children": [{"name": "c", "implementation": "SIMPLE_MODEL"}],
                },
            ],
        }
    )
    graph = default_seldon_deployment(SeldonDeployment.from_dict(doc)).spec.predictors[0].graph
    assert [u.type for u in graph.walk()] == ["ROUTER", "MODEL", "COMBINER", "MODEL"]
    assert graph.endpoint is not None and graph.endpoint.type == "REST"
    again = default_seldon_deployment(default_seldon_deployment(SeldonDeployment.from_dict(doc)))
    assert again.to_dict() == default_seldon_deployment(SeldonDeployment.from_dict(doc)).to_dict()


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            sdep(
                {"name": "m", "children": [{"name": "t", "children": [{"name": "m"}]}]},
                [{"name": "m", "image": "i"}, {"name": "t", "image": "i"}],
            ),
            "spec.predictors[0].graph.children[0].children[0].name: graph cycle: m -> t -> m",
        ),
        (
            sdep(
                {"name": "m", "children": [{"name": "x", "type": "SPLITTER"}]},
                [{"name": "m", "image": "i"}, {"name": "x", "image": "i"}],
            ),
            "spec.predictors[0].graph.children[0].type: unknown type 'SPLITTER'",
        ),
        (
            sdep([{"name": "a"}, {"name": "b"}], [{"name": "a", "image": "i"}]),  # type: ignore[arg-type]
            "spec.predictors[0].graph: Value error, a predictor's graph has exactly one root unit, got 2",
        ),
        (
            sdep(
                {"name": "r", "type": "ROUTER", "children": [{"name": "a"}, {"name": "a"}]},
                [{"name": "r", "image": "i"}, {"name": "a", "image": "i"}],
            ),
            "spec.predictors[0].graph.children[1].name: duplicate unit name 'a' in the graph",
        ),
        (
            sdep({"name": "m"}, [{"name": "m", "image": "i"}], traffic=60),
            "spec.predictors: traffic of the non-shadow predictors must sum to 100, got 60 (default=60)",
        ),
        (
            sdep({"name": "m"}, [{"name": "other", "image": "i"}]),
            "spec.predictors[0].graph.name: unit 'm' has no container of that name in componentSpecs",
        ),
        (
            sdep({"name": "m"}, [{"name": "m"}]),
            "spec.predictors[0].graph.name: the container 'm' of componentSpecs[0] has no image",
        ),
        (
            sdep(
                {
                    "name": "r",
                    "type": "ROUTER",
                    "parameters": [{"name": "n_branches", "value": "3", "type": "INT"}],
                    "children": [{"name": "a"}, {"name": "b"}],
                },
                [{"name": n, "image": "i"} for n in "rab"],
            ),
            "spec.predictors[0].graph.parameters[0].value: n_branches is 3 but the unit has 2 children",
        ),
        (
            sdep({"name": "m", "implementation": "SKLEARN_SERVER"}),
            "spec.predictors[0].graph.modelUri: SKLEARN_SERVER needs a modelUri",
        ),
        (
            sdep({"name": "m", "implementation": "FOO_SERVER"}),
            "spec.predictors[0].graph.implementation: unknown implementation 'FOO_SERVER'",
        ),
        (
            sdep(
                {"name": "m", "parameters": [{"name": "n", "value": "x", "type": "INT"}]},
                [{"name": "m", "image": "i"}],
            ),
            "spec.predictors[0].graph.parameters[0].value: does not parse as INT",
        ),
    ],
)
def test_invalid_deployments_name_the_path(doc: dict[str, Any], expected: str) -> None:
    found = errors(doc)
    assert any(e.startswith(expected) for e in found), found


def test_rest_timeout_annotation_is_milliseconds() -> None:
    doc = sdep({"name": "m"}, [{"name": "m", "image": "i"}])
    doc["metadata"]["annotations"] = {"seldon.io/rest-timeout": "1.5s"}
    assert errors(doc) == [
        "metadata.annotations[seldon.io/rest-timeout]: must be a positive number of milliseconds, got '1.5s'"
    ]


def test_protocols_and_transports_the_orchestrator_serves() -> None:
    one = sdep({"name": "m", "implementation": "SKLEARN_SERVER", "modelUri": "gs://a"})
    one["spec"]["protocol"] = "v2"
    assert errors(one) == []  # passed through to the lone unit
    graph = sdep(
        {"name": "t", "type": "TRANSFORMER", "children": [{"name": "m"}]},
        [{"name": n, "image": "i"} for n in "tm"],
    )
    graph["spec"]["protocol"] = "v2"
    graph["spec"]["transport"] = "grpc"
    assert errors(graph) == [  # transport grpc is served: only the protocol is refused
        "spec.predictors[0].graph: a graph of several units needs protocol seldon, got 'v2' "
        "(a one-unit graph passes any protocol through)",
    ]


def test_two_predictors_split_traffic() -> None:
    doc = sdep({"name": "m", "implementation": "SKLEARN_SERVER", "modelUri": "gs://a"}, traffic=75)
    canary = {
        "name": "canary",
        "traffic": 25,
        "graph": {"name": "m", "implementation": "XGBOOST_SERVER", "modelUri": "gs://b"},
    }
    shadow = {
        "name": "shadow",
        "shadow": True,
        "graph": {"name": "m", "implementation": "SKLEARN_SERVER", "modelUri": "gs://c"},
    }
    doc["spec"]["predictors"] += [canary, shadow]
    assert errors(doc) == []
    doc["spec"]["predictors"][1]["name"] = "default"
    assert "spec.predictors[1].name: duplicate predictor name 'default'" in errors(doc)


def test_status_as_seldon_writes_it() -> None:
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    failed = {
        "status": {
            "conditions": [{"type": "Ready", "status": "False", "message": "image 'x' cannot run locally"}]
        }
    }
    status = deployment_status(
        {"d-default-m": ready, "d-default": None}, "http://d/api/v1.0/predictions", {"d-default-m": 1}
    )
    assert status.state == "Creating"
    assert status.deployment_status is not None
    assert status.deployment_status["d-default-m"].available_replicas == 1
    status = deployment_status(
        {"d-default-m": ready, "d-default": ready}, "http://d/api/v1.0/predictions", {}
    )
    assert status.state == "Available" and status.is_ready()
    assert status.address is not None and status.address.url == "http://d/api/v1.0/predictions"
    status = deployment_status({"d-default-m": failed, "d-default": ready}, None, {})
    assert status.state == "Failed"
    assert status.description == "d-default-m: image 'x' cannot run locally"


def _properties(schema: dict[str, Any], *path: str) -> set[str]:
    for part in path:
        schema = schema["properties"][part] if part != "[]" else schema["items"]
    return set(schema.get("properties", {}))


def test_crd_has_every_field_of_seldons_crd(shared_specs: Path) -> None:
    theirs_crd = yaml.safe_load((shared_specs / "seldon" / "seldondeployments.crd.yaml").read_text())
    theirs = next(v for v in theirs_crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]
    crd = next(c for c in all_crds() if c["spec"]["names"]["kind"] == "SeldonDeployment")
    assert crd["spec"]["names"]["shortNames"] == theirs_crd["spec"]["names"]["shortNames"] == ["sdep"]
    ours = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path in (("spec",), ("spec", "predictors", "[]"), ("spec", "predictors", "[]", "graph"), ("status",)):
        missing = _properties(theirs, *path) - _properties(ours, *path)
        assert not missing, f"{'.'.join(path)} lacks {sorted(missing)}"
