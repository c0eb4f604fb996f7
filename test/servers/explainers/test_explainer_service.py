"""The controller builds the built-in explainers' Knative Services: spec.explainer.art (KServe's args)
and spec.explainer.model with modelFormat kernelshap, both `zeroserve serve` commands our CLI accepts,
both valid for Knative's CRD; unknown formats are a build error naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.crd_schema import crd_file_validator

from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.apis.serving.v1beta1.validation import ignored_fields, validate_inference_service
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.errors import BuildError
from zeroserve.controller.resources.knative_service import build_component_service
from zeroserve.servers.cli import build_parser, parse_serve_args


def _isvc(explainer: dict[str, Any]) -> InferenceService:
    doc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris", "namespace": "ml", "uid": "u1"},
        "spec": {
            "predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/iris"}},
            "explainer": explainer,
        },
    }
    return default_inference_service(InferenceService.from_dict(doc))


def _main(isvc: InferenceService) -> tuple[dict[str, Any], dict[str, Any]]:
    service = build_component_service(isvc, "explainer", ControllerConfig(version="t"))
    return service, service["spec"]["template"]["spec"]["containers"][0]


def test_art_explainer_gets_kserve_args(shared_specs: Path) -> None:
    isvc = _isvc({"art": {"type": "SquareAttack", "config": {"nb_classes": "10", "max_iter": "20"}}})
    assert validate_inference_service(isvc) == [] and ignored_fields(isvc) == []
    service, main = _main(isvc)
    assert service["metadata"]["name"] == "iris-explainer"
    assert main["image"] == "ghcr.io/zeroserve/zeroserve:t"
    assert main["args"] == [
        "serve", "art", "--model_name", "iris", "--http_port", "8080",
        "--predictor_host", "iris-predictor.ml", "--adversary_type", "SquareAttack",
        "--max_iter", "20", "--nb_classes", "10",
    ]  # fmt: skip
    command = parse_serve_args(main["args"][1:])
    assert command.runtime == "art" and command.unknown_flags == []
    assert command.options == {"adversary_type": "SquareAttack", "nb_classes": "10", "max_iter": "20"}
    validate = crd_file_validator(shared_specs / "knative-serving" / "service.yaml", "Service", "v1")
    assert validate(service) == []


def test_kernelshap_explainer_with_background_from_storage(shared_specs: Path) -> None:
    isvc = _isvc({"model": {"modelFormat": {"name": "kernelshap"}, "storageUri": "s3://b/background"}})
    assert validate_inference_service(isvc) == [] and ignored_fields(isvc) == []
    service, main = _main(isvc)
    assert main["args"][:2] == ["serve", "kernelshap"]
    assert "--predictor_host" in main["args"] and main["args"][-2:] == ["--model_dir", "/mnt/models"]
    _, unknown = build_parser([]).parse_known_args(main["args"][1:])
    assert unknown == []
    pod = service["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["args"] == ["storage-initializer", "s3://b/background", "/mnt/models"]
    assert "model" not in pod
    validate = crd_file_validator(shared_specs / "knative-serving" / "service.yaml", "Service", "v1")
    assert validate(service) == []


def test_unknown_explainer_format_and_custom_containers() -> None:
    with pytest.raises(
        BuildError, match=r"spec\.explainer\.model\.modelFormat\.name 'lime' is not a built-in"
    ):
        _main(_isvc({"model": {"modelFormat": {"name": "lime"}}}))
    custom = _isvc({"containers": [{"name": "kserve-container", "image": "me/explainer:1"}]})
    _, main = _main(custom)
    assert main["image"] == "me/explainer:1" and "--predictor_host" in main["args"]
    neither = _isvc({"minReplicas": 1})
    assert [e.message for e in validate_inference_service(neither)] == [
        "exactly one of [art, model, containers] must be specified in ExplainerSpec"
    ]
