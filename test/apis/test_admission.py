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
