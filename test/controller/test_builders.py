"""Pure builders on KServe-shaped YAML: golden files, and the contracts with the data plane's CLIs.

The golden files need nothing outside the repository. Two reference comparisons at the end hold the
same inputs and outputs against KServe's and Knative's own CRDs in ``../shared/specs`` (they skip in a
user's clone, where that folder is absent).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from support.crd_schema import crd_file_validator

from zeroserve.apis.serving.v1alpha1 import InferenceGraph
from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.errors import BuildError
from zeroserve.controller.resources.http_route import build_http_route
from zeroserve.controller.resources.inference_graph import (
    build_graph_service,
    referenced_services,
    service_step_url,
)
from zeroserve.controller.resources.knative_service import build_component_service
from zeroserve.controller.resources.traffic import component_traffic

from .golden import assert_golden

DATA = Path(__file__).parent / "testdata"
ISVC_CASES = sorted(p.stem for p in (DATA / "isvc").glob("*.yaml"))
IG_CASES = sorted(p.stem for p in (DATA / "ig").glob("*.yaml"))


def golden_config() -> ControllerConfig:
    """The configuration golden files are built with: a fixed image tag, KServe's defaults otherwise."""
    image = "ghcr.io/zeroserve/zeroserve:golden"
    return ControllerConfig(version="golden", storage_initializer_image=image, router_image=image)


def load(kind: str, case: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DATA / kind / f"{case}.yaml").read_text())
    return data


def isvc_from(data: dict[str, Any]) -> InferenceService:
    isvc = default_inference_service(InferenceService.from_dict(data))
    isvc.metadata.uid = f"uid-{isvc.name}"
    return isvc


def isvc_services(case: str) -> list[dict[str, Any]]:
    """The Knative Services built for the InferenceService test case ``case``, one per component."""
    isvc = isvc_from(load("isvc", case))
    return [build_component_service(isvc, c, golden_config()) for c in isvc.spec.components()]


def graph_service(case: str) -> dict[str, Any]:
    """The Knative Service built for the InferenceGraph test case ``case``."""
    graph = InferenceGraph.from_dict(load("ig", case))
    graph.metadata.uid = f"uid-{graph.name}"
    config = golden_config()
    return build_graph_service(graph, _step_urls(graph, config), config)


@pytest.mark.parametrize("case", ISVC_CASES)
def test_inference_service_builds_match_golden(case: str) -> None:
    isvc = isvc_from(load("isvc", case))
    assert_golden(f"isvc-{case}", [*isvc_services(case), build_http_route(isvc, golden_config())])


def _step_urls(graph: InferenceGraph, config: ControllerConfig) -> dict[str, str]:
    by_name = {d["metadata"]["name"]: d for d in (load("isvc", case) for case in ISVC_CASES)}
    urls = {}
    for name in referenced_services(graph):
        data = by_name.get(name) or {"metadata": {"name": name}, "spec": {"predictor": {"sklearn": {}}}}
        data["metadata"]["namespace"] = graph.namespace
        urls[name] = service_step_url(isvc_from(data), config)
    return urls


@pytest.mark.parametrize("case", IG_CASES)
def test_inference_graph_builds_match_golden(case: str) -> None:
    assert_golden(f"ig-{case}", [graph_service(case)])


# -- focused, table-driven checks of the rules the golden files encode ----------------------------


@pytest.mark.parametrize(
    ("case", "component", "annotations"),
    [
        ("sklearn-v1", "predictor", {"autoscaling.knative.dev/min-scale": "1"}),
        (
            "gpu-autoscaling",
            "predictor",
            {
                "autoscaling.knative.dev/min-scale": "0",
                "autoscaling.knative.dev/max-scale": "3",
                "autoscaling.knative.dev/target": "5",
                "autoscaling.knative.dev/metric": "concurrency",
                "autoscaling.knative.dev/window": "30s",
            },
        ),
        (
            "batcher",
            "predictor",
            {
                "internal.serving.kserve.io/batcher": "true",
                "internal.serving.kserve.io/batcher-max-batchsize": "32",
                "internal.serving.kserve.io/batcher-max-latency": "500",
            },
        ),
        ("logger", "predictor", {"internal.serving.kserve.io/logger-mode": "all"}),
    ],
)
def test_template_annotations(case: str, component: str, annotations: dict[str, str]) -> None:
    service = build_component_service(isvc_from(load("isvc", case)), component, golden_config())
    got = service["spec"]["template"]["metadata"]["annotations"]
    assert got["autoscaling.knative.dev/class"] == "kpa.autoscaling.knative.dev"
    for key, value in annotations.items():
        assert got[key] == value, key


def test_model_name_on_the_wire_is_the_isvc_name_and_models_come_from_storage() -> None:
    isvc = isvc_from(load("isvc", "sklearn-v1"))
    pod = build_component_service(isvc, "predictor", golden_config())["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"][:3] == ["serve", "sklearn", "--model_name=sklearn-iris"]
    assert pod["initContainers"][0]["args"] == [
        "storage-initializer",
        "gs://kfserving-examples/models/sklearn/1.0/model",
        "/mnt/models",
    ]
    assert {"name": "kserve-provision-location", "emptyDir": {}} in pod["volumes"]


def test_transformer_is_wired_to_the_predictor_with_its_protocol() -> None:
    isvc = isvc_from(load("isvc", "transformer"))
    pod = build_component_service(isvc, "transformer", golden_config())["spec"]["template"]["spec"]
    main = pod["containers"][0]
    args = main["args"]
    assert args[args.index("--predictor_host") + 1] == "torch-transformer-predictor.default"
    assert args[args.index("--predictor_protocol") + 1] == "v2"
    assert args[args.index("--model_name") + 1] == "torch-transformer"
    assert {"name": "PROTOCOL", "value": "v2"} in main["env"]


def test_gpu_limits_are_passed_through() -> None:
    isvc = isvc_from(load("isvc", "gpu-autoscaling"))
    pod = build_component_service(isvc, "predictor", golden_config())["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["containerConcurrency"] == 10
    assert pod["timeoutSeconds"] == 120


def test_logger_flags_on_our_server_and_a_sidecar_for_a_foreign_image() -> None:
    isvc = isvc_from(load("isvc", "logger"))
    predictor = build_component_service(isvc, "predictor", golden_config())["spec"]["template"]["spec"]
    args = predictor["containers"][0]["args"]
    assert args[args.index("--log-url") + 1].startswith("http://broker-ingress")
    assert args[args.index("--log-metadata-headers") + 1] == "x-request-id,x-user"
    assert args[args.index("--component") + 1] == "predictor"
    transformer = build_component_service(isvc, "transformer", golden_config())["spec"]["template"]["spec"]
    user, agent = transformer["containers"]
    assert "ports" not in user, "only the sidecar may expose the serving port"
    assert agent["args"][:5] == ["logger-agent", "--upstream", "http://127.0.0.1:5000", "--port", "9081"]
    assert agent["args"][agent["args"].index("--log-url") + 1] == "http://default-broker"


def test_http_route_sends_explain_to_the_explainer_and_the_rest_to_the_transformer_or_predictor() -> None:
    route = build_http_route(isvc_from(load("isvc", "explainer")), golden_config())
    assert route["spec"]["hostnames"] == ["income.default.example.com", "income.default.svc.cluster.local"]
    rules = route["spec"]["rules"]
    assert [r["backendRefs"][0]["name"] for r in rules] == ["income-explainer", "income-predictor"]
    assert rules[0]["matches"][0]["path"]["type"] == "RegularExpression"
    transformer = build_http_route(isvc_from(load("isvc", "transformer")), golden_config())
    backends = [r["backendRefs"][0]["name"] for r in transformer["spec"]["rules"]]
    assert backends == ["torch-transformer-transformer"]


def test_no_runtime_for_a_format_is_a_build_error_naming_the_runtimes() -> None:
    data = load("isvc", "sklearn-v2")
    data["spec"]["predictor"]["model"].pop("runtime", None)
    data["spec"]["predictor"]["model"]["modelFormat"]["name"] = "caffe"
    with pytest.raises(BuildError) as info:
        build_component_service(isvc_from(data), "predictor", golden_config())
    assert info.value.reason == "NoSupportingRuntime"
    assert info.value.message.startswith("spec.predictor.model: no runtime supports model format 'caffe'")
    assert "kserve-sklearnserver [sklearn:1; v1/v2/grpc-v2]" in info.value.message


@pytest.mark.parametrize(
    ("percent", "rolled_out", "tags", "expected"),
    [
        (None, None, False, [{"latestRevision": True, "percent": 100}]),
        (10, None, False, [{"latestRevision": True, "percent": 100}]),  # first rollout: nothing to split with
        (
            10,
            "s-00001",
            False,
            [
                {"latestRevision": True, "percent": 10},
                {"tag": "prev", "revisionName": "s-00001", "latestRevision": False, "percent": 90},
            ],
        ),
        (
            0,
            "s-00001",
            False,
            [
                {"latestRevision": True, "percent": 0},
                {"tag": "prev", "revisionName": "s-00001", "latestRevision": False, "percent": 100},
            ],
        ),
        (100, "s-00001", True, [{"tag": "latest", "latestRevision": True, "percent": 100}]),
        (None, "s-00001", True, [{"tag": "latest", "latestRevision": True, "percent": 100}]),
    ],
)
def test_canary_traffic(
    percent: int | None, rolled_out: str | None, tags: bool, expected: list[dict[str, Any]]
) -> None:
    assert component_traffic(percent, rolled_out, tags) == expected


def test_graph_steps_resolve_to_the_service_address_and_protocol_path() -> None:
    graph = InferenceGraph.from_dict(load("ig", "splitter"))
    urls = _step_urls(graph, golden_config())
    assert urls == {
        "sklearn-iris": "http://sklearn-iris.default.svc.cluster.local/v1/models/sklearn-iris:predict",
        "sklearn-v2-iris": "http://sklearn-v2-iris.default.svc.cluster.local/v2/models/sklearn-v2-iris/infer",
    }


# -- contracts with the data plane: what we build, the real CLIs parse -------------------------------


@pytest.mark.parametrize("case", IG_CASES)
def test_router_plans_the_graph_json_we_build(case: str) -> None:
    from zeroserve.router.planner import load_graph_json

    graph = InferenceGraph.from_dict(load("ig", case))
    config = golden_config()
    args = build_graph_service(graph, _step_urls(graph, config), config)["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert args[:2] == ["router", "--graph-json"]
    load_graph_json(args[2], namespace=graph.namespace)  # raises GraphPlanError when it cannot


@pytest.mark.parametrize("case", ISVC_CASES)
def test_model_server_takes_every_flag_we_pass(case: str) -> None:
    from zeroserve.servers.cli import build_parser

    isvc = isvc_from(load("isvc", case))
    config = golden_config()
    for component in isvc.spec.components():
        for container in build_component_service(isvc, component, config)["spec"]["template"]["spec"][
            "containers"
        ]:
            args = container.get("args") or []
            if container["image"].startswith("ghcr.io/zeroserve/zeroserve") and args[:1] == ["serve"]:
                _, unknown = build_parser([]).parse_known_args(args[1:])
                assert unknown == [], f"{component}: the server does not know {unknown}"


def test_logger_agent_takes_the_sidecar_flags_we_pass() -> None:
    import argparse

    from zeroserve.logger.config import add_logger_arguments, config_from_args

    isvc = isvc_from(load("isvc", "logger"))
    pod = build_component_service(isvc, "transformer", golden_config())["spec"]["template"]["spec"]
    agent = next(c for c in pod["containers"] if c["name"] == "logger-agent")
    assert agent["args"][0] == "logger-agent"
    # the agent's own parser: --upstream, its port flag, and the shared payload-logging flags
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--http-port", "--http_port", "--port", dest="http_port", type=int)
    add_logger_arguments(parser)
    args = parser.parse_args(agent["args"][1:])
    config = config_from_args(args)
    assert config is not None and args.upstream == "http://127.0.0.1:5000" and args.http_port == 9081


# -- the project's published samples (config/samples) build, and their graphs plan ------------------------

SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples"
ISVC_SAMPLES = sorted((SAMPLES / "isvc").glob("*.yaml"))
IG_SAMPLES = sorted((SAMPLES / "ig").glob("*.yaml"))


def sample_isvc_services(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(component, Knative Service)`` for every component of the InferenceServices in a sample file.

    A component that needs a runtime zeroserve does not ship is a build error (a status on a
    cluster), not a service; it must be one of the expected reasons.
    """
    built = []
    for data in yaml.safe_load_all(path.read_text()):
        if not data or data.get("kind") != "InferenceService":
            continue
        isvc = isvc_from(data)
        for component in isvc.spec.components():
            try:
                built.append((component, build_component_service(isvc, component, golden_config())))
            except BuildError as exc:
                assert exc.reason in ("NoSupportingRuntime", "InvalidSpec"), exc
    return built


def sample_graph_services(path: Path) -> list[dict[str, Any]]:
    """The Knative Service of every InferenceGraph in a sample file."""
    services = []
    for data in yaml.safe_load_all(path.read_text()):
        if not data or data.get("kind") != "InferenceGraph":
            continue
        graph = InferenceGraph.from_dict(data)
        config = golden_config()
        services.append(build_graph_service(graph, _step_urls(graph, config), config))
    return services


@pytest.mark.parametrize("path", ISVC_SAMPLES, ids=lambda p: p.stem)
def test_every_inference_service_sample_builds(path: Path) -> None:
    for component, service in sample_isvc_services(path):
        assert service["kind"] == "Service" and service["metadata"]["name"].endswith(component)


@pytest.mark.parametrize("path", IG_SAMPLES, ids=lambda p: p.stem)
def test_every_inference_graph_sample_builds_and_plans(path: Path) -> None:
    from zeroserve.router.planner import load_graph_json

    for service in sample_graph_services(path):
        load_graph_json(service["spec"]["template"]["spec"]["containers"][0]["args"][2])


# -- reference comparisons: KServe's and Knative's own CRDs (../shared/specs) -----------------------------


def test_inputs_are_valid_kserve(shared_specs: Path, subtests: pytest.Subtests) -> None:
    """Every InferenceService and InferenceGraph test input is one KServe's CRDs accept."""
    kserve = shared_specs / "kserve"
    isvc = crd_file_validator(kserve / "inferenceservices.crd.yaml", "InferenceService", "v1beta1")
    graph = crd_file_validator(kserve / "inferencegraphs.crd.yaml", "InferenceGraph", "v1alpha1")
    for case in ISVC_CASES:
        with subtests.test(msg=f"isvc/{case}"):
            assert isvc(load("isvc", case)) == []
    for case in IG_CASES:
        with subtests.test(msg=f"ig/{case}"):
            assert graph(load("ig", case)) == []


def test_built_services_are_valid_knative(shared_specs: Path, subtests: pytest.Subtests) -> None:
    """Every Knative Service built (golden cases and published samples) is one Knative's CRD accepts."""
    validate = crd_file_validator(shared_specs / "knative-serving" / "service.yaml", "Service", "v1")
    for case in ISVC_CASES:
        with subtests.test(msg=f"isvc/{case}"):
            for service in isvc_services(case):
                assert validate(service) == [], service["metadata"]["name"]
    for case in IG_CASES:
        with subtests.test(msg=f"ig/{case}"):
            assert validate(graph_service(case)) == []
    for path in ISVC_SAMPLES:
        with subtests.test(msg=f"sample {path.name}"):
            for component, service in sample_isvc_services(path):
                assert validate(service) == [], component
    for path in IG_SAMPLES:
        with subtests.test(msg=f"sample {path.name}"):
            for service in sample_graph_services(path):
                assert validate(service) == []
