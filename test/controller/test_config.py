"""The ConfigMap overlay, and the runtime a build without one gets (the built-in ones, KServe's rules)."""

from __future__ import annotations

import json
import logging

import pytest

from zeroserve.apis.serving.v1beta1 import ModelSpec
from zeroserve.controller.config import CONFIGMAP_NAME, RETIRED_KEYS, ControllerConfig
from zeroserve.controller.config.cluster_runtimes import GRPC_PORT, HTTP_PORT, protocol_ports
from zeroserve.controller.errors import BuildError
from zeroserve.controller.resources.containers import builtin_runtime


def _model(
    fmt: str, protocol: str | None = None, runtime: str | None = None, version: str | None = None
) -> ModelSpec:
    body: dict[str, object] = {"modelFormat": {"name": fmt, **({"version": version} if version else {})}}
    if protocol:
        body["protocolVersion"] = protocol
    if runtime:
        body["runtime"] = runtime
    return ModelSpec.model_validate(body)


@pytest.mark.parametrize(
    ("model_format", "protocol", "runtime", "version", "expected"),
    [
        ("sklearn", None, None, None, "kserve-sklearnserver"),
        ("SKLearn", "v2", None, None, "kserve-sklearnserver"),  # format names compare case-insensitively
        ("xgboost", "grpc-v2", None, None, "kserve-xgbserver"),
        ("lightgbm", "v1", None, "4", "kserve-lgbserver"),
        ("pytorch", "v1", None, None, "kserve-torchserve"),  # KServe's pytorch runtime is TorchServe
        ("tensorflow", "v1", None, None, "kserve-tensorflow-serving"),  # priority 2 over triton's 1
        ("tensorflow", "grpc-v2", None, None, "kserve-tritonserver"),  # tf-serving has no gRPC v2
        ("onnx", "v2", None, None, "zeroserve-onnx"),
        ("triton", "v2", None, None, "kserve-tritonserver"),
        ("sklearn", "v2", "kserve-mlserver", None, "kserve-mlserver"),  # not autoSelect, but named
        ("sklearn", "v1", "kserve-sklearnserver", None, "kserve-sklearnserver"),
        # names of the retired runtime table resolve to the runtime that serves them now
        ("sklearn", "v1", "zeroserve-sklearn", None, "kserve-sklearnserver"),
        ("xgboost", "v2", "zeroserve-xgboost", None, "kserve-xgbserver"),
        ("torchscript", "v1", "zeroserve-pytorch", None, "zeroserve-torchscript"),
    ],
)
def test_a_build_without_a_runtime_selects_a_builtin_one_as_kserve_does(
    model_format: str, protocol: str | None, runtime: str | None, version: str | None, expected: str
) -> None:
    chosen = builtin_runtime(_model(model_format, protocol, runtime, version), ControllerConfig(version="t"))
    assert (chosen.kind, chosen.name) == ("ClusterServingRuntime", expected)


@pytest.mark.parametrize(
    ("model", "reason", "says", "offers"),
    [
        (
            _model("sklearn", "grpc-v1"),
            "NoSupportingRuntime",
            "protocol 'grpc-v1'",
            "sklearn:1; v1/v2/grpc-v2",
        ),
        (
            _model("lightgbm", version="9"),
            "NoSupportingRuntime",
            "version '9'",
            "kserve-lgbserver [lightgbm:4",
        ),
        (
            _model("sklearn", runtime="kserve-xgbserver"),
            "NoSupportingRuntime",
            "format 'sklearn'",
            "[xgboost:2",
        ),
        (
            _model("sklearn", "v1", runtime="kserve-mlserver"),
            "NoSupportingRuntime",
            "protocol 'v1'",
            "serves v2",
        ),
        (
            _model("sklearn", runtime="my-runtime"),
            "RuntimeNotRecognized",
            "'my-runtime'",
            "kserve-sklearnserver [",
        ),
        (_model("paddle-ish"), "NoSupportingRuntime", "'paddle-ish'", "kserve-sklearnserver [sklearn:1"),
    ],
)
def test_no_fitting_builtin_runtime_is_a_build_error_naming_the_field_and_what_would_work(
    model: ModelSpec, reason: str, says: str, offers: str
) -> None:
    with pytest.raises(BuildError) as info:
        builtin_runtime(model, ControllerConfig(version="t"))
    assert info.value.reason == reason
    assert info.value.message.startswith("spec.predictor.model"), info.value.message
    assert says in info.value.message and offers in info.value.message, info.value.message


def test_protocol_ports_are_http1_for_rest_and_h2c_for_grpc() -> None:
    http = [{"name": "http1", "containerPort": HTTP_PORT, "protocol": "TCP"}]
    grpc = [{"name": "h2c", "containerPort": GRPC_PORT, "protocol": "TCP"}]
    assert protocol_ports("v1") == protocol_ports("v2") == http
    assert protocol_ports("grpc-v1") == protocol_ports("grpc-v2") == grpc
    protocol_ports("v1")[0]["containerPort"] = 1  # each call is a new list
    assert protocol_ports("v1") == http


def test_configmap_overlays_kserve_keys_and_keeps_the_rest() -> None:
    config = ControllerConfig.from_configmap(
        {
            "ingress": json.dumps({"ingressDomain": "models.example.org", "urlScheme": "https"}),
            "storageInitializer": json.dumps({"image": "registry.local/si:1", "memoryLimit": "2Gi"}),
            "batcher": json.dumps({"maxBatchSize": "64", "maxLatency": "100"}),
            "router": json.dumps({"headers": {"propagate": ["Authorization", "X-.*"]}}),
            "credentials": "{}",  # a KServe key we do not read
        }
    )
    assert (config.domain, config.url_scheme) == ("models.example.org", "https")
    assert config.storage_initializer_image == "registry.local/si:1"
    assert config.storage_initializer_resources["limits"]["memory"] == "2Gi"
    assert config.storage_initializer_resources["requests"]["cpu"] == "100m"
    assert (config.batcher_max_batch_size, config.batcher_max_latency_ms) == (64, 100)
    assert config.router_propagate_headers == ["Authorization", "X-.*"]
    assert config.logger_default_url == ControllerConfig().logger_default_url


def test_the_retired_runtimes_key_is_ignored_with_a_warning_saying_what_replaced_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = "runtimes:\n- {name: mine, modelFormats: [sklearn], image: registry.local/mine:1}\n"
    with caplog.at_level(logging.WARNING, logger="zeroserve.controller.config"):
        config = ControllerConfig.from_configmap(
            {"runtimes": table, "ingress": json.dumps({"ingressDomain": "models.example.org"})}
        )
    assert config.domain == "models.example.org"  # the rest of the ConfigMap still applies
    assert config == ControllerConfig.from_configmap(
        {"ingress": json.dumps({"ingressDomain": "models.example.org"})}
    )
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert message.startswith(f"{CONFIGMAP_NAME}: key 'runtimes' is no longer read")
    assert "ClusterServingRuntime" in message and "delete this key" in message
    assert set(RETIRED_KEYS) == {"runtimes"}
    with caplog.at_level(logging.WARNING, logger="zeroserve.controller.config"):
        caplog.clear()
        ControllerConfig.from_configmap({"ingress": "{}"})
    assert not caplog.records  # no warning without the key


def test_a_malformed_configmap_key_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'ingress'"):
        ControllerConfig.from_configmap({"ingress": "{not json"})
