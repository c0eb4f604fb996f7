"""KServe's runtime selection, the container merge and the built-in ClusterServingRuntimes (no servers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zeroserve.apis.admission import admit
from zeroserve.apis.field_errors import InvalidObjectError
from zeroserve.apis.serving.v1alpha1.runtime_selection import (
    RuntimeCandidate,
    SelectionError,
    select_runtime,
)
from zeroserve.apis.serving.v1alpha1.runtime_validation import parse_memory
from zeroserve.apis.serving.v1alpha1.serving_runtime import ServingRuntimeSpec
from zeroserve.controller.config.cluster_runtimes import builtin_cluster_runtimes, runtime_files
from zeroserve.controller.config.runtime_source import candidates_from_objects
from zeroserve.controller.resources.containers import merge_runtime_container

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = candidates_from_objects("ClusterServingRuntime", builtin_cluster_runtimes("t"))


def _rt(
    name: str,
    formats: list[dict[str, Any]],
    protocols: list[str] | None = None,
    kind: str = "ServingRuntime",
    created: str = "2026-01-01T00:00:00Z",
    **spec: Any,
) -> RuntimeCandidate:
    body: dict[str, Any] = {"supportedModelFormats": formats, "containers": [{"name": "c", "image": "i"}]}
    if protocols is not None:
        body["protocolVersions"] = protocols
    body.update(spec)
    return RuntimeCandidate(kind, name, ServingRuntimeSpec.model_validate(body), created)


AUTO_SK = {"name": "sklearn", "version": "1", "autoSelect": True}
USER_SK = _rt("my-sklearn", [AUTO_SK], ["v1", "v2"])
CLUSTER_HI = _rt("cluster-hi", [{**AUTO_SK, "priority": 5}], ["v1"], kind="ClusterServingRuntime")
CLUSTER_LO = _rt("cluster-lo", [{**AUTO_SK, "priority": 1}], ["v1"], kind="ClusterServingRuntime")
NAMED_ONLY = _rt("by-name", [{"name": "sklearn", "version": "1"}], ["v1"])
DISABLED = _rt("off", [{**AUTO_SK, "priority": 9}], ["v1"], disabled=True)
MMS = _rt("mms", [AUTO_SK], ["v1", "v2"], multiModel=True)
OLD = _rt("old", [AUTO_SK], ["v1"], created="2025-01-01T00:00:00Z")
V2_ONLY = _rt("v2only", [AUTO_SK], ["v2"])

# (case, model format, version, protocol, runtime name, namespace runtimes, cluster runtimes, multi, expected)
CASES: list[tuple[str, str, str | None, str, str | None, list[Any], list[Any], bool, str]] = [
    ("builtin sklearn v1", "sklearn", None, "v1", None, [], BUILTIN, False, "kserve-sklearnserver"),
    (
        "builtin sklearn v2: our server (mlserver only by name)",
        "sklearn",
        None,
        "v2",
        None,
        [],
        BUILTIN,
        False,
        "kserve-sklearnserver",
    ),
    ("builtin sklearn grpc-v2", "sklearn", None, "grpc-v2", None, [], BUILTIN, False, "kserve-sklearnserver"),
    ("builtin xgboost", "xgboost", None, "v1", None, [], BUILTIN, False, "kserve-xgbserver"),
    ("builtin lightgbm", "lightgbm", None, "v1", None, [], BUILTIN, False, "kserve-lgbserver"),
    (
        "builtin tensorflow v1: tfserving",
        "tensorflow",
        None,
        "v1",
        None,
        [],
        BUILTIN,
        False,
        "kserve-tensorflow-serving",
    ),
    ("builtin pytorch: torchserve", "pytorch", None, "v1", None, [], BUILTIN, False, "kserve-torchserve"),
    ("builtin triton", "triton", None, "v2", None, [], BUILTIN, False, "kserve-tritonserver"),
    ("builtin onnx v2: ours over triton", "onnx", None, "v2", None, [], BUILTIN, False, "zeroserve-onnx"),
    ("builtin pmml", "pmml", "4", "v1", None, [], BUILTIN, False, "kserve-pmmlserver"),
    ("named kserve-mlserver", "sklearn", "1", "v2", "kserve-mlserver", [], BUILTIN, False, "kserve-mlserver"),
    (
        "named pytorch on triton (not autoSelect)",
        "pytorch",
        None,
        "v2",
        "kserve-tritonserver",
        [],
        BUILTIN,
        False,
        "kserve-tritonserver",
    ),
    (
        "format name is case-insensitive",
        "SKLearn",
        None,
        "v1",
        None,
        [],
        BUILTIN,
        False,
        "kserve-sklearnserver",
    ),
    (
        "namespace runtime before cluster",
        "sklearn",
        None,
        "v1",
        None,
        [USER_SK],
        [CLUSTER_HI],
        False,
        "my-sklearn",
    ),
    (
        "highest priority in cluster scope",
        "sklearn",
        None,
        "v1",
        None,
        [],
        [CLUSTER_LO, CLUSTER_HI],
        False,
        "cluster-hi",
    ),
    (
        "autoSelect false is not auto-selected",
        "sklearn",
        None,
        "v1",
        None,
        [NAMED_ONLY],
        [CLUSTER_LO],
        False,
        "cluster-lo",
    ),
    (
        "autoSelect false works by name",
        "sklearn",
        None,
        "v1",
        "by-name",
        [NAMED_ONLY],
        [CLUSTER_LO],
        False,
        "by-name",
    ),
    ("disabled is skipped", "sklearn", None, "v1", None, [DISABLED], [CLUSTER_LO], False, "cluster-lo"),
    ("protocol filters", "sklearn", None, "v2", None, [USER_SK], [CLUSTER_HI], False, "my-sklearn"),
    ("multi-model skipped for an isvc", "sklearn", None, "v2", None, [MMS], [V2_ONLY], False, "v2only"),
    ("multi-model only for TrainedModels", "sklearn", None, "v1", None, [USER_SK, MMS], [], True, "mms"),
    ("newest wins a priority tie", "sklearn", None, "v1", None, [OLD, USER_SK], [], False, "my-sklearn"),
    ("version matches by major", "sklearn", "1.3", "v1", None, [USER_SK], [], False, "my-sklearn"),
    (
        "namespace name shadows cluster name",
        "sklearn",
        None,
        "v1",
        "cluster-hi",
        [_rt("cluster-hi", [AUTO_SK], ["v1"])],
        [CLUSTER_HI],
        False,
        "cluster-hi/ServingRuntime",
    ),
]

# (case, format, version, protocol, runtime, namespace, cluster, multi, reason, message fragment)
ERRORS: list[tuple[str, str, str | None, str, str | None, list[Any], list[Any], bool, str, str]] = [
    (
        "no runtime for the format",
        "mxnet",
        None,
        "v1",
        None,
        [],
        BUILTIN,
        False,
        "NoSupportingRuntime",
        "no runtime supports model format 'mxnet'",
    ),
    (
        "protocol mismatch",
        "sklearn",
        None,
        "grpc-v1",
        None,
        [USER_SK],
        [],
        False,
        "NoSupportingRuntime",
        "protocol 'grpc-v1'",
    ),
    (
        "version mismatch",
        "sklearn",
        "2",
        "v1",
        None,
        [USER_SK],
        [],
        False,
        "NoSupportingRuntime",
        "version '2'",
    ),
    (
        "named runtime missing",
        "sklearn",
        None,
        "v1",
        "nope",
        [],
        BUILTIN,
        False,
        "RuntimeNotRecognized",
        "no ServingRuntime or ClusterServingRuntime named 'nope'",
    ),
    (
        "named runtime disabled",
        "sklearn",
        None,
        "v1",
        "off",
        [DISABLED],
        [],
        False,
        "RuntimeDisabled",
        "'off' is disabled",
    ),
    (
        "named runtime lacks protocol",
        "sklearn",
        None,
        "grpc-v2",
        "my-sklearn",
        [USER_SK],
        [],
        False,
        "NoSupportingRuntime",
        "does not support protocol 'grpc-v2'",
    ),
    (
        "named runtime lacks format",
        "xgboost",
        None,
        "v1",
        "my-sklearn",
        [USER_SK],
        [],
        False,
        "NoSupportingRuntime",
        "does not support model format 'xgboost'",
    ),
    (
        "named multi-model runtime for an isvc",
        "sklearn",
        None,
        "v1",
        "mms",
        [MMS],
        [],
        False,
        "NoSupportingRuntime",
        "multi-model runtime",
    ),
    (
        "no multi-model runtime",
        "sklearn",
        None,
        "v1",
        None,
        [USER_SK],
        BUILTIN,
        True,
        "NoSupportingRuntime",
        "no multi-model runtime supports",
    ),
]


@pytest.mark.parametrize(
    ("fmt", "version", "protocol", "runtime", "namespaced", "cluster", "multi", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_selection(
    fmt: str,
    version: str | None,
    protocol: str,
    runtime: str | None,
    namespaced: list[RuntimeCandidate],
    cluster: list[RuntimeCandidate],
    multi: bool,
    expected: str,
) -> None:
    chosen = select_runtime(
        model_format=fmt,
        model_version=version,
        protocol=protocol,
        runtime_name=runtime,
        namespace_runtimes=namespaced,
        cluster_runtimes=cluster,
        multi_model=multi,
    )
    name, _, kind = expected.partition("/")
    assert chosen.name == name
    if kind:
        assert chosen.kind == kind


@pytest.mark.parametrize(
    ("fmt", "version", "protocol", "runtime", "namespaced", "cluster", "multi", "reason", "fragment"),
    [c[1:] for c in ERRORS],
    ids=[c[0] for c in ERRORS],
)
def test_selection_errors_name_the_field_and_what_would_work(
    fmt: str,
    version: str | None,
    protocol: str,
    runtime: str | None,
    namespaced: list[RuntimeCandidate],
    cluster: list[RuntimeCandidate],
    multi: bool,
    reason: str,
    fragment: str,
) -> None:
    with pytest.raises(SelectionError) as caught:
        select_runtime(
            model_format=fmt,
            model_version=version,
            protocol=protocol,
            runtime_name=runtime,
            namespace_runtimes=namespaced,
            cluster_runtimes=cluster,
            multi_model=multi,
        )
    assert caught.value.reason == reason
    assert caught.value.message.startswith("spec.predictor.model")
    assert fragment in caught.value.message
    if reason == "NoSupportingRuntime" and runtime is None:
        assert "runtimes:" in caught.value.message  # lists what the runtimes do support


def test_merge_predictor_wins_args_appended_env_by_name() -> None:
    runtime = {
        "name": "kserve-container",
        "image": "ghcr.io/zeroserve/zeroserve:{{.Version}}",
        "args": ["serve", "sklearn", "--model_name={{.Name}}", "--model_dir=/mnt/models"],
        "env": [{"name": "A", "value": "runtime"}, {"name": "IMPL", "value": "{{.Labels.modelClass}}"}],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1"}},
        "ports": [{"containerPort": 8080, "name": "http1"}],
    }
    model = {
        "args": ["--workers=2"],
        "env": [{"name": "A", "value": "model"}, {"name": "B", "value": "{{.Namespace}}"}],
        "resources": {"requests": {"memory": "4Gi"}},
        "imagePullPolicy": "Never",
    }
    values = {"Name": "iris", "Namespace": "ns1", "Version": "9", "Labels": {}, "Annotations": {}}
    merged = merge_runtime_container(runtime, model, values)
    assert merged["image"] == "ghcr.io/zeroserve/zeroserve:9"
    assert merged["args"] == [
        "serve",
        "sklearn",
        "--model_name=iris",
        "--model_dir=/mnt/models",
        "--workers=2",
    ]
    assert merged["env"] == [
        {"name": "A", "value": "model"},
        {"name": "IMPL", "value": ""},
        {"name": "B", "value": "ns1"},
    ]
    assert merged["resources"] == {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "1"}}
    assert merged["imagePullPolicy"] == "Never" and merged["name"] == "kserve-container"
    assert merged["ports"] == [{"containerPort": 8080, "name": "http1"}]


def test_config_runtimes_are_the_generated_builtins() -> None:
    folder = ROOT / "config" / "runtimes"
    wanted = runtime_files()
    present = {p.name: p.read_text() for p in folder.glob("*.yaml")}
    assert present == wanted, "config/runtimes is stale: regenerate with runtime_files()"


def test_every_builtin_runtime_is_admitted() -> None:
    for obj in builtin_cluster_runtimes():
        admit(obj)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"supportedModelFormats": [{"name": "a", "priority": 2}]}, "spec.supportedModelFormats[0].priority"),
        ({"protocolVersions": ["v3"]}, "spec.protocolVersions[0]: unsupported value 'v3'"),
        ({"containers": []}, "spec.containers: at least one container"),
    ],
)
def test_bad_runtimes_are_refused_naming_the_field(spec: dict[str, Any], fragment: str) -> None:
    body = {"containers": [{"name": "c", "image": "i"}], **spec}
    obj = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime", "metadata": {"name": "x"}}
    with pytest.raises(InvalidObjectError) as caught:
        admit({**obj, "spec": body})
    assert fragment in str(caught.value)


def test_trained_model_memory_is_a_quantity() -> None:
    assert parse_memory("256Mi") == 256 * 1024**2 and parse_memory("1G") == 10**9
    obj = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "TrainedModel",
        "metadata": {"name": "m"},
        "spec": {
            "inferenceService": "s",
            "model": {"storageUri": "file:///m", "framework": "sklearn", "memory": "lots"},
        },
    }
    with pytest.raises(InvalidObjectError, match=r"spec.model.memory: 'lots' is not a quantity"):
        admit(obj)
