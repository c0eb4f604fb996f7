"""Admission: every kind defaulted and validated like its webhook; unknown kinds pass through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zeroserve.apis.admission import admission_table, admit
from zeroserve.apis.crds import all_crds
from zeroserve.apis.field_errors import InvalidObjectError

from .conftest import SAMPLES, Validate, load_yaml

SAMPLE_FILES = sorted(SAMPLES.glob("*/*.yaml"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[f"{p.parent.name}/{p.stem}" for p in SAMPLE_FILES])
def test_samples_are_admitted_and_stay_schema_valid(path: Path, our_schema: dict[str, Validate]) -> None:
    sample = load_yaml(path)
    stored = admit(sample)
    assert our_schema[stored["kind"]](stored) == []
    assert admit(stored) == stored


def test_legacy_key_is_rewritten_in_what_is_stored() -> None:
    stored = admit(load_yaml(SAMPLES / "isvc" / "sklearn-v1.yaml"))
    predictor = stored["spec"]["predictor"]
    assert "sklearn" not in predictor
    assert predictor["model"]["modelFormat"] == {"name": "sklearn"}
    assert predictor["minReplicas"] == 1


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": "x"},
                "spec": {"predictor": {"minReplicas": "many"}},
            },
            [
                "spec.predictor.minReplicas: Input should be a valid integer, "
                "unable to parse string as an integer"
            ],
        ),
        (
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": "x"},
                "spec": {"predictor": {"minReplicas": 2, "maxReplicas": 1}},
            },
            [
                "spec.predictor: exactly one of [sklearn, xgboost, tensorflow, pytorch, triton, onnx, "
                "huggingface, pmml, lightgbm, paddle, model, containers] must be specified in PredictorSpec",
                "spec.predictor.minReplicas: must be <= maxReplicas",
            ],
        ),
        (
            {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "metadata": {"name": "x"},
                "spec": {},
            },
            ["spec.template.spec.containers: is required"],
        ),
    ],
    ids=["wrong-type", "rules", "knative-service"],
)
def test_rejections_carry_every_error(obj: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(InvalidObjectError) as caught:
        admit(obj)
    assert [str(e) for e in caught.value.errors] == expected


def test_unknown_kinds_pass_through() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}
    assert admit(config_map) is config_map


def test_every_served_kind_has_admission() -> None:
    served = {
        (f"{c['spec']['group']}/{c['spec']['versions'][0]['name']}", c["spec"]["names"]["kind"])
        for c in all_crds()
    }
    assert set(admission_table()) == served


def _isvc(mode: str | None, uri: str = "gs://a/model") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "iris"}
    if mode is not None:
        metadata["annotations"] = {"serving.kserve.io/deploymentMode": mode}
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {"predictor": {"sklearn": {"storageUri": uri}}},
    }


def _revision(image: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {"name": "hello-00001"},
        "spec": {"containers": [{"image": image}]},
    }


def _ksvc(revision_name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello"},
        "spec": {
            "template": {"metadata": {"name": revision_name}, "spec": {"containers": [{"image": image}]}}
        },
    }


def _trigger(broker: str) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": "t"},
        "spec": {"broker": broker, "subscriber": {"uri": "http://x.default.svc.cluster.local"}},
    }


def _broker(broker_class: str) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "default", "annotations": {"eventing.knative.dev/broker.class": broker_class}},
    }


# (id, stored object, updated object, expected errors)
UPDATES: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("isvc-model-change", _isvc("Serverless"), _isvc("Serverless", "gs://b/model"), []),
    (
        "isvc-deployment-mode",
        _isvc("Serverless"),
        _isvc("RawDeployment"),
        [
            "metadata.annotations[serving.kserve.io/deploymentMode]: update of the deployment mode is not "
            "allowed (was Serverless)"
        ],
    ),
    ("isvc-mode-added", _isvc(None), _isvc("Serverless"), []),
    ("revision-unchanged", _revision("a"), _revision("a"), []),
    (
        "revision-spec",
        _revision("a"),
        _revision("b"),
        ["spec: is immutable: a Revision cannot change once created"],
    ),
    ("ksvc-new-revision-name", _ksvc("hello-v1", "a"), _ksvc("hello-v2", "b"), []),
    (
        "ksvc-same-revision-name",
        _ksvc("hello-v1", "a"),
        _ksvc("hello-v1", "b"),
        [
            "spec.template.metadata.name: must change when the template changes "
            "(revision hello-v1 already exists)"
        ],
    ),
    ("trigger-broker", _trigger("default"), _trigger("other"), ["spec.broker: is immutable (was default)"]),
    (
        "broker-class",
        _broker("MTChannelBasedBroker"),
        _broker("Kafka"),
        ["metadata.annotations[eventing.knative.dev/broker.class]: is immutable (was MTChannelBasedBroker)"],
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), [u[1:] for u in UPDATES], ids=[u[0] for u in UPDATES])
def test_updates(old: dict[str, Any], new: dict[str, Any], expected: list[str]) -> None:
    stored = admit(old)
    if expected:
        with pytest.raises(InvalidObjectError) as caught:
            admit(new, old=stored)
        assert [str(e) for e in caught.value.errors] == expected
    else:
        admit(new, old=stored)


def test_a_legacy_key_applied_again_beside_the_stored_model_is_rewritten_again() -> None:
    stored = admit(_isvc(None, "gs://a/model"))
    reapplied = _isvc(None, "gs://b/model")  # what kubectl's merge of an edited manifest sends
    reapplied["spec"]["predictor"]["model"] = stored["spec"]["predictor"]["model"]

    updated = admit(reapplied, old=stored)

    assert "sklearn" not in updated["spec"]["predictor"]
    assert updated["spec"]["predictor"]["model"]["storageUri"] == "gs://b/model"


@pytest.mark.parametrize("stored_first", [False, True], ids=["create", "update"])
def test_a_legacy_key_beside_a_model_of_ones_own_is_refused(stored_first: bool) -> None:
    both = _isvc(None)
    both["spec"]["predictor"]["model"] = {"modelFormat": {"name": "xgboost"}, "storageUri": "gs://x"}
    old = admit(_isvc(None)) if stored_first else None

    with pytest.raises(InvalidObjectError) as caught:
        admit(both, old=old)

    assert str(caught.value.errors[0]).startswith("spec.predictor: exactly one of [sklearn, ")
