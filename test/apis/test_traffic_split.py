"""zeroserve's A/B/N annotation: parsed targets and every rule with its path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from zeroserve.apis.serving.v1beta1.traffic_split import TRAFFIC_ANNOTATION, traffic_splits
from zeroserve.apis.serving.v1beta1.types import InferenceService
from zeroserve.apis.serving.v1beta1.validation import validate_inference_service

from .conftest import SAMPLES, Validate, load_yaml

PATH = f"metadata.annotations[{TRAFFIC_ANNOTATION}]"
R1, R2 = "iris-predictor-00001", "iris-predictor-00002"


def _isvc(annotation: Any, **predictor: Any) -> dict[str, Any]:
    value = annotation if isinstance(annotation, str) else json.dumps(annotation)
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris", "annotations": {TRAFFIC_ANNOTATION: value}},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}}, **predictor}},
    }


# (id, annotation, predictor extras, expected errors)
CASES: list[tuple[str, Any, dict[str, Any], list[str]]] = [
    (
        "three-way",
        {
            "predictor": [
                {"revisionName": R1, "percent": 20, "tag": "a"},
                {"revisionName": R2, "percent": 30, "tag": "b"},
                {"latestRevision": True, "percent": 50},
            ]
        },
        {},
        [],
    ),
    ("not-json", "[", {}, [f"{PATH}: must be a JSON object: Expecting value: line 1 column 2 (char 1)"]),
    ("not-object", [1], {}, [f"{PATH}: must be a JSON object from component name to traffic targets"]),
    (
        "missing-component",
        {"transformer": [{"latestRevision": True, "percent": 100}]},
        {},
        [f"{PATH}[transformer]: the InferenceService has no transformer"],
    ),
    (
        "with-canary",
        {"predictor": [{"latestRevision": True, "percent": 100}]},
        {"canaryTrafficPercent": 10},
        [f"{PATH}[predictor]: cannot be combined with spec.predictor.canaryTrafficPercent"],
    ),
    ("empty", {"predictor": []}, {}, [f"{PATH}[predictor]: must be a non-empty list of traffic targets"]),
    (
        "bad-type",
        {"predictor": [{"percent": "lots"}]},
        {},
        [
            f"{PATH}[predictor][0].percent: Input should be a valid integer, "
            "unable to parse string as an integer"
        ],
    ),
    (
        "target-rules",
        {
            "predictor": [
                {"latestRevision": True, "revisionName": R1, "percent": 40, "tag": "x"},
                {"percent": 10, "tag": "x"},
                {"revisionName": "other-00001", "percent": 120},
                {"latestRevision": True},
            ]
        },
        {},
        [
            f"{PATH}[predictor][0].revisionName: may not set revisionName when latestRevision is true",
            f"{PATH}[predictor][1]: exactly one of [revisionName, latestRevision: true] must be specified",
            f"{PATH}[predictor][1].tag: duplicate tag 'x'",
            f"{PATH}[predictor][2].revisionName: must name a revision of this component "
            "(iris-predictor-NNNNN)",
            f"{PATH}[predictor][2].percent: must be between 0 and 100",
            f"{PATH}[predictor][3].percent: must be between 0 and 100",
            f"{PATH}[predictor]: at most one target may follow the latest revision",
            f"{PATH}[predictor]: traffic targets sum to 50, want 100",
        ],
    ),
]


@pytest.mark.parametrize(
    ("annotation", "predictor", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_traffic_annotation(annotation: Any, predictor: dict[str, Any], expected: list[str]) -> None:
    isvc = InferenceService.from_dict(_isvc(annotation, **predictor))
    assert [str(e) for e in validate_inference_service(isvc)] == expected
    if expected:
        with pytest.raises(ValueError):
            traffic_splits(isvc)


def test_traffic_annotations_are_accepted_by_kserve_crd(
    reference_schema: dict[str, Validate], subtests: pytest.Subtests
) -> None:
    """KServe's CRD keeps any annotation: the traffic split is ours to validate."""
    for name, annotation, predictor, _ in CASES:
        with subtests.test(msg=name):
            assert reference_schema["InferenceService"](_isvc(annotation, **predictor)) == []


def test_sample_split_is_parsed() -> None:
    isvc = InferenceService.from_dict(load_yaml(SAMPLES / "isvc" / "abn-traffic.yaml"))
    split = traffic_splits(isvc)["predictor"]
    assert [(t.revision_name, t.latest_revision, t.percent, t.tag) for t in split] == [
        ("sklearn-abn-predictor-00001", None, 20, "a"),
        ("sklearn-abn-predictor-00002", None, 30, "b"),
        (None, True, 50, "c"),
    ]
    assert (
        traffic_splits(InferenceService.from_dict({"metadata": {"name": "x"}, "spec": {"predictor": {}}}))
        == {}
    )
