"""The runtime table and the ConfigMap overlay."""

from __future__ import annotations

import json

import pytest

from zeroserve.controller.config import ControllerConfig, RuntimeTable, default_runtime_table


@pytest.mark.parametrize(
    ("model_format", "protocol", "runtime", "expected"),
    [
        ("sklearn", "v1", None, "zeroserve-sklearn"),
        ("SKLearn", "v2", None, "zeroserve-sklearn"),
        ("xgboost", "grpc-v2", None, "zeroserve-xgboost"),
        ("pytorch", "v1", None, "zeroserve-pytorch"),
        ("sklearn", "v1", "kserve-sklearnserver", "zeroserve-sklearn"),
        ("xgboost", "v2", "kserve-xgbserver", "zeroserve-xgboost"),
        ("sklearn", "v1", "zeroserve-xgboost", None),  # a named runtime must support the format
        ("tensorflow", "v1", None, None),
        ("sklearn", "grpc-v1", None, None),
    ],
)
def test_runtime_selection(
    model_format: str, protocol: str, runtime: str | None, expected: str | None
) -> None:
    chosen = default_runtime_table().select(model_format, protocol, runtime)
    assert (chosen.name if chosen else None) == expected


def test_priority_decides_between_fitting_runtimes() -> None:
    table = RuntimeTable.from_yaml(
        """
runtimes:
  - {name: low, modelFormats: [sklearn], protocols: [v1], priority: 1, image: a}
  - {name: high, modelFormats: [sklearn], protocols: [v1], priority: 5, image: b}
"""
    )
    chosen = table.select("sklearn", "v1")
    assert chosen is not None and chosen.name == "high"
    assert table.ports_for("v1") == [{"name": "http1", "containerPort": 8080}]


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
    assert config.runtimes == default_runtime_table()


def test_a_malformed_configmap_key_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'ingress'"):
        ControllerConfig.from_configmap({"ingress": "{not json"})
