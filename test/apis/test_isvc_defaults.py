"""KServe's InferenceService defaulting: table-driven over the predictor implementations and the
component extension fields."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.apis.serving.v1beta1.types import InferenceService

from .conftest import Validate


def _isvc(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "model", "namespace": "default"}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": spec,
    }


URI = "gs://kfserving-examples/models/sklearn/1.0/model"

# (id, spec as written, spec after defaulting)
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "sklearn-legacy-key-becomes-model-v1",
        {"predictor": {"sklearn": {"storageUri": URI}}},
        {
            "predictor": {
                "minReplicas": 1,
                "model": {"storageUri": URI, "protocolVersion": "v1", "modelFormat": {"name": "sklearn"}},
            }
        },
    ),
    (
        "legacy-key-keeps-container-fields-and-protocol",
        {
            "predictor": {
                "xgboost": {
                    "storageUri": URI,
                    "protocolVersion": "v2",
                    "runtimeVersion": "0.11.0",
                    "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
                    "env": [{"name": "A", "value": "1"}],
                }
            }
        },
        {
            "predictor": {
                "minReplicas": 1,
                "model": {
                    "env": [{"name": "A", "value": "1"}],
                    "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
                    "storageUri": URI,
                    "runtimeVersion": "0.11.0",
                    "protocolVersion": "v2",
                    "modelFormat": {"name": "xgboost"},
                },
            }
        },
    ),
    *[
        (
            f"{key}-legacy-key-protocol-{protocol}",
            {"predictor": {key: {"storageUri": URI}}},
            {
                "predictor": {
                    "minReplicas": 1,
                    "model": {"storageUri": URI, "protocolVersion": protocol, "modelFormat": {"name": key}},
                }
            },
        )
        for key, protocol in (
            ("xgboost", "v1"),
            ("pytorch", "v1"),
            ("tensorflow", "v1"),
            ("lightgbm", "v1"),
            ("paddle", "v1"),
            ("pmml", "v1"),
            ("triton", "v2"),
            ("onnx", "v2"),
            ("huggingface", "v2"),
        )
    ],
    *[
        (
            f"model-format-{fmt}-protocol-{protocol}",
            {"predictor": {"model": {"modelFormat": {"name": fmt}, "storageUri": URI}}},
            {
                "predictor": {
                    "minReplicas": 1,
                    "model": {"storageUri": URI, "protocolVersion": protocol, "modelFormat": {"name": fmt}},
                }
            },
        )
        for fmt, protocol in (("sklearn", "v1"), ("triton", "v2"), ("vllm", "v2"), ("huggingface", "v1"))
    ],
    (
        "explicit-protocol-kept",
        {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "grpc-v2"}}},
        {
            "predictor": {
                "minReplicas": 1,
                "model": {"protocolVersion": "grpc-v2", "modelFormat": {"name": "sklearn"}},
            }
        },
    ),
    (
        "min-replicas-zero-kept",
        {
            "predictor": {
                "minReplicas": 0,
                "model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1"},
            }
        },
        {
            "predictor": {
                "minReplicas": 0,
                "model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1"},
            }
        },
    ),
    (
        "logger-mode-defaults-to-all",
        {
            "predictor": {
                "logger": {"url": "http://sink"},
                "model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1"},
            }
        },
        {
            "predictor": {
                "minReplicas": 1,
                "logger": {"url": "http://sink", "mode": "all"},
                "model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1"},
            }
        },
    ),
    (
        "logger-mode-kept",
        {
            "predictor": {
                "logger": {"mode": "request"},
                "model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1"},
            }
        },
        {
            "predictor": {
                "minReplicas": 1,
                "logger": {"mode": "request"},
                "model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1"},
            }
        },
    ),
    (
        "named-containers-kept",
        {"predictor": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}},
        {
            "predictor": {
                "minReplicas": 1,
                "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}],
            }
        },
    ),
    (
        "every-component-defaulted",
        {
            "predictor": {"model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1"}},
            "transformer": {"containers": [{"name": "kserve-container", "image": "t"}], "logger": {}},
            "explainer": {"minReplicas": 2, "containers": [{"name": "e", "image": "e"}]},
        },
        {
            "predictor": {
                "minReplicas": 1,
                "model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1"},
            },
            "transformer": {
                "minReplicas": 1,
                "logger": {"mode": "all"},
                "containers": [{"name": "kserve-container", "image": "t"}],
            },
            "explainer": {"minReplicas": 2, "containers": [{"name": "e", "image": "e"}]},
        },
    ),
    (
        "pod-fields-and-unknown-fields-kept",
        {
            "predictor": {
                "serviceAccountName": "sa",
                "hostIPC": False,
                "sklearn": {"storageUri": URI, "tty": True},
            }
        },
        {
            "predictor": {
                "serviceAccountName": "sa",
                "minReplicas": 1,
                "model": {
                    "storageUri": URI,
                    "protocolVersion": "v1",
                    "tty": True,
                    "modelFormat": {"name": "sklearn"},
                },
                "hostIPC": False,
            }
        },
    ),
]


@pytest.mark.parametrize(("written", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_defaults(written: dict[str, Any], expected: dict[str, Any]) -> None:
    isvc = InferenceService.from_dict(_isvc(written))
    assert default_inference_service(isvc).to_dict()["spec"] == expected


@pytest.mark.parametrize("written", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_defaults_leave_input_unchanged_and_are_idempotent(written: dict[str, Any]) -> None:
    isvc = InferenceService.from_dict(_isvc(written))
    before = isvc.to_dict()
    once = default_inference_service(isvc)
    assert isvc.to_dict() == before
    assert default_inference_service(once).to_dict() == once.to_dict()


def test_inputs_and_outputs_are_accepted_by_kserve_crd(
    reference_schema: dict[str, Validate], subtests: pytest.Subtests
) -> None:
    for name, written, expected in CASES:
        with subtests.test(msg=name):
            assert reference_schema["InferenceService"](_isvc(written)) == []
            assert reference_schema["InferenceService"](_isvc(expected)) == []


def test_defaulted_fields_are_typed() -> None:
    isvc = default_inference_service(
        InferenceService.from_dict(_isvc({"predictor": {"sklearn": {"storageUri": URI}}}))
    )
    model = isvc.spec.predictor.model
    assert model is not None and model.model_format is not None
    assert (model.model_format.name, model.storage_uri, model.protocol_version) == ("sklearn", URI, "v1")
    assert isvc.spec.predictor.sklearn is None
    assert isvc.spec.predictor.legacy_frameworks() == []
