"""The model bases: camelCase on the wire, both spellings accepted, unknown fields kept."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.apis.core import Container
from zeroserve.apis.knative.serving.v1 import Service
from zeroserve.apis.serving.v1beta1.types import InferenceService


@pytest.mark.parametrize(
    "limits",
    [{"cpu": 1}, {"cpu": "500m"}, {"cpu": 0.5}, {"memory": "2Gi", "nvidia.com/gpu": 1}],
    ids=["int", "milli", "float", "gpu"],
)
def test_quantities_round_trip_unchanged(limits: dict[str, Any]) -> None:
    container = {"name": "c", "image": "i", "resources": {"limits": limits, "requests": limits}}
    assert Container.from_dict(container).to_dict() == container


def test_snake_case_and_camel_case_are_both_accepted() -> None:
    by_alias = InferenceService.from_dict(
        {"metadata": {"name": "a"}, "spec": {"predictor": {"minReplicas": 2}}}
    )
    by_name = InferenceService.model_validate(
        {"metadata": {"name": "a"}, "spec": {"predictor": {"min_replicas": 2}}}
    )
    assert by_alias.spec.predictor.min_replicas == by_name.spec.predictor.min_replicas == 2
    assert by_name.to_dict()["spec"]["predictor"] == {"minReplicas": 2}


def test_unknown_fields_survive_at_every_level() -> None:
    obj = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "a", "managedFields": [{"manager": "kubectl"}], "uid": "u"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"a": "b"}},
                "spec": {
                    "containers": [{"image": "i", "securityContext": {"runAsNonRoot": True}}],
                    "enableServiceLinks": False,
                },
            },
            "futureField": {"x": 1},
        },
        "status": {"conditions": [{"type": "Ready", "status": "True", "futureKey": 1}], "url": "http://a"},
    }
    service = Service.from_dict(obj)
    assert service.to_dict() == obj
    assert (service.name, service.namespace, service.annotations, service.labels) == ("a", "", {}, {})
    assert service.status is not None and service.status.is_ready()
