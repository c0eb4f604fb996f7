"""SeldonDeployment builders on the samples: golden files, Knative's schema, our admission.

Run with ``ZEROSERVE_UPDATE_GOLDEN=1`` to rewrite ``golden/`` after an intended change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.crd_schema import crd_file_validator

from zeroserve.apis.admission import admit
from zeroserve.apis.seldon import SeldonDeployment
from zeroserve.apis.seldon.defaults import default_seldon_deployment
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.resources.seldon_deployment import (
    build_component_services,
    build_orchestrator_service,
)
from zeroserve.controller.resources.seldon_route import build_seldon_route
from zeroserve.router.seldon.graph import load_seldon_json

SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples" / "seldon"
CASES = sorted(p.stem for p in SAMPLES.glob("*.yaml"))
GOLDEN = Path(__file__).parent / "golden"
CONFIG = ControllerConfig(
    version="golden",
    storage_initializer_image="ghcr.io/zeroserve/zeroserve:golden",
    router_image="ghcr.io/zeroserve/zeroserve:golden",
)


def built(case: str) -> list[dict[str, Any]]:
    """Every object the controller builds for the sample ``case``: Knative Services, then the route."""
    sdep = default_seldon_deployment(
        SeldonDeployment.from_dict(yaml.safe_load((SAMPLES / f"{case}.yaml").read_text()))
    )
    sdep.metadata.namespace = "default"
    sdep.metadata.uid = f"uid-{sdep.name}"
    objects: list[dict[str, Any]] = []
    for predictor in sdep.spec.predictors:
        objects += build_component_services(sdep, predictor, CONFIG)
        objects.append(build_orchestrator_service(sdep, predictor, CONFIG))
    objects.append(build_seldon_route(sdep, CONFIG))
    return objects


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    documents = built(case)
    path = GOLDEN / f"{case}.yaml"
    text = yaml.safe_dump_all(documents, sort_keys=False, width=120)
    if os.environ.get("ZEROSERVE_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with ZEROSERVE_UPDATE_GOLDEN=1 to create it"
    assert documents == list(yaml.safe_load_all(path.read_text())), f"{case} differs from {path}"


@pytest.mark.parametrize("case", CASES)
def test_built_objects_pass_admission_and_the_orchestrator_reads_its_graph(case: str) -> None:
    for obj in built(case):
        admit(obj)  # Knative's and Gateway API's validation; raises on an error
        if (
            obj["kind"] == "Service"
            and obj["spec"]["template"]["spec"]["containers"][0].get("args", [""])[0] == "router"
        ):
            graph = load_seldon_json(obj["spec"]["template"]["spec"]["containers"][0]["args"][2])
            assert graph.deployment and graph.root.name


def test_built_services_are_valid_knative(shared_specs: Path) -> None:
    validate = crd_file_validator(shared_specs / "knative-serving" / "service.yaml", "Service", "v1")
    for case in CASES:
        for obj in built(case):
            if obj["kind"] == "Service":
                assert validate(obj) == [], (case, obj["metadata"]["name"])


def test_what_the_builders_map() -> None:
    objects = {o["metadata"]["name"]: o for o in built("bandit")}
    assert set(objects) == {
        "seldon-bandit-default-doubler",
        "seldon-bandit-default-adder",
        "seldon-bandit-default",
        "seldon-bandit",
    }
    graph = json.loads(
        objects["seldon-bandit-default"]["spec"]["template"]["spec"]["containers"][0]["args"][2]
    )["graph"]
    assert graph["bandit"] == {
        "strategy": "EpsilonGreedy",
        "n_branches": "2",
        "epsilon": "0.2",
        "best_branch": "0",
        "seed": "7",
    }
    for obj in objects.values():
        assert obj["metadata"]["ownerReferences"][0]["kind"] == "SeldonDeployment"
    sklearn = {o["metadata"]["name"]: o for o in built("sklearn")}["iris-model-default-classifier"]
    pod = sklearn["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["args"] == [
        "storage-initializer",
        "gs://seldon-models/v1.17.0/sklearn/iris",
        "/mnt/models",
    ]
    assert pod["containers"][0]["args"][:2] == ["serve", "sklearn"]
    assert "--log-url" in pod["containers"][0]["args"]
    assert sklearn["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "1"
    router = {o["metadata"]["name"]: o for o in built("router")}
    orchestrator = router["seldon-router-default"]["spec"]["template"]["spec"]["containers"][0]["args"][2]
    assert json.loads(orchestrator)["timeout"] == 30.0  # seldon.io/rest-timeout: "30000"
    model = router["seldon-router-default-adder"]
    env = {e["name"]: e["value"] for e in model["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PREDICTIVE_UNIT_ID"] == "adder"
    assert json.loads(env["PREDICTIVE_UNIT_PARAMETERS"]) == [{"name": "add", "value": "1", "type": "FLOAT"}]
    assert model["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "0"
    route = {o["metadata"]["name"]: o for o in built("canary")}["seldon-canary"]["spec"]
    assert route["hostnames"] == [
        "seldon-canary.default.example.com",
        "seldon-canary.default.svc.cluster.local",
    ]
    assert route["rules"][0]["matches"][0]["path"]["value"] == "/seldon/default/seldon-canary"
    assert [(b["name"], b["weight"]) for b in route["rules"][1]["backendRefs"]] == [
        ("seldon-canary-main", 75),
        ("seldon-canary-canary", 25),
    ]


def test_the_local_gateway_splits_the_canary_by_weight() -> None:
    from zeroserve.local.engine.routing import RoutingTable, http_route_rules

    route = {o["metadata"]["name"]: o for o in built("canary")}["seldon-canary"]
    table = RoutingTable(http_routes=http_route_rules(route))
    picks = {
        rand: table.resolve("seldon-canary.default.example.com", "/api/v1.0/predictions", rand)
        for rand in (0.1, 0.74, 0.76, 0.99)
    }
    assert {rand: p.route for rand, p in picks.items() if p} == {
        0.1: "default/seldon-canary-main",
        0.74: "default/seldon-canary-main",
        0.76: "default/seldon-canary-canary",
        0.99: "default/seldon-canary-canary",
    }
    assert picks[0.99] is not None and picks[0.99].host == "seldon-canary-canary.default.svc.cluster.local"
    by_path = table.resolve("127.0.0.1", "/seldon/default/seldon-canary/api/v1.0/predictions", 0.1)
    assert by_path is not None and by_path.route == "default/seldon-canary-main"
    assert by_path.path == "/api/v1.0/predictions"


def test_transport_grpc_makes_every_served_unit_a_grpc_endpoint() -> None:
    document = yaml.safe_load((SAMPLES / "router.yaml").read_text())
    document["spec"]["transport"] = "grpc"
    sdep = default_seldon_deployment(SeldonDeployment.from_dict(document))
    sdep.metadata.namespace = "default"
    orchestrator = build_orchestrator_service(sdep, sdep.spec.predictors[0], CONFIG)
    args = orchestrator["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[3:] == ["--grpc-port", "0"]  # the engine API over gRPC too, on a port its ready file names
    graph = load_seldon_json(args[2])
    assert {u.name: u.grpc for u in graph.root.walk()} == {
        name: (f"seldon-router-default-{name}.default.svc.cluster.local", 80)
        for name in ("picker", "doubler", "adder")
    }


@pytest.mark.parametrize(
    ("implementation", "router_image", "expected"),
    [
        ("SKLEARN_SERVER", "ghcr.io/zeroserve/zeroserve:golden", "ghcr.io/zeroserve/zeroserve:golden"),
        (
            "TENSORFLOW_SERVER",
            "ghcr.io/zeroserve/zeroserve:golden",
            "ghcr.io/zeroserve/zeroserve:golden-tensorflow",
        ),
        ("TRITON_SERVER", "ghcr.io/zeroserve/zeroserve:1.2.3", "ghcr.io/zeroserve/zeroserve:1.2.3-torch"),
        # a platform image from elsewhere is its owner's: every prepackaged server runs on it
        ("TENSORFLOW_SERVER", "registry.example.com/ml/zeroserve:7", "registry.example.com/ml/zeroserve:7"),
    ],
)
def test_a_prepackaged_server_runs_on_the_image_that_holds_its_framework(
    implementation: str, router_image: str, expected: str
) -> None:
    sdep = default_seldon_deployment(
        SeldonDeployment.from_dict(
            {
                "apiVersion": "machinelearning.seldon.io/v1",
                "kind": "SeldonDeployment",
                "metadata": {"name": "m", "namespace": "default", "uid": "u"},
                "spec": {
                    "predictors": [
                        {
                            "name": "default",
                            "graph": {
                                "name": "model",
                                "implementation": implementation,
                                "modelUri": "gs://bucket/model",
                            },
                        }
                    ]
                },
            }
        )
    )
    config = ControllerConfig(
        version="golden", storage_initializer_image=router_image, router_image=router_image
    )
    (service,) = build_component_services(sdep, sdep.spec.predictors[0], config)
    (container,) = [c for c in service["spec"]["template"]["spec"]["containers"] if c["name"] == "model"]
    assert container["image"] == expected
