"""Every sample in config/samples: accepted by KServe's CRD, round-tripped with no field lost,
defaulted and validated clean, and accepted by our generated CRD before and after defaulting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zeroserve.apis.serving.v1alpha1.defaults import default_inference_graph
from zeroserve.apis.serving.v1alpha1.types import InferenceGraph
from zeroserve.apis.serving.v1alpha1.validation import validate_inference_graph
from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.apis.serving.v1beta1.types import InferenceService
from zeroserve.apis.serving.v1beta1.validation import validate_inference_service

from .conftest import Validate, load_yaml, sample_paths

ISVC_SAMPLES = sample_paths("isvc")
IG_SAMPLES = sample_paths("ig")
ALL_SAMPLES = [*ISVC_SAMPLES, *IG_SAMPLES]


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.stem}" for p in paths]


def test_samples_cover_every_case() -> None:
    names = {p.stem for p in ISVC_SAMPLES}
    assert {
        "sklearn-v1",
        "sklearn-v2",
        "xgboost",
        "pytorch",
        "custom-container",
        "transformer",
        "explainer",
        "logger",
        "batcher",
        "gpu-autoscaling",
        "canary",
    } <= names
    assert {"sequence", "switch", "ensemble", "splitter", "bandit"} <= {p.stem for p in IG_SAMPLES}


def test_sample_is_accepted_by_kserve_crd(
    reference_schema: dict[str, Validate], subtests: pytest.Subtests
) -> None:
    for path in ALL_SAMPLES:
        with subtests.test(msg=f"{path.parent.name}/{path.stem}"):
            sample = load_yaml(path)
            assert reference_schema[sample["kind"]](sample) == []


@pytest.mark.parametrize("path", ISVC_SAMPLES, ids=_ids(ISVC_SAMPLES))
def test_inference_service_round_trips(path: Path) -> None:
    sample = load_yaml(path)
    assert InferenceService.from_dict(sample).to_dict() == sample


@pytest.mark.parametrize("path", IG_SAMPLES, ids=_ids(IG_SAMPLES))
def test_inference_graph_round_trips(path: Path) -> None:
    sample = load_yaml(path)
    assert InferenceGraph.from_dict(sample).to_dict() == sample


def _defaulted(sample: dict[str, Any]) -> dict[str, Any]:
    if sample["kind"] == "InferenceService":
        return default_inference_service(InferenceService.from_dict(sample)).to_dict()
    return default_inference_graph(InferenceGraph.from_dict(sample)).to_dict()


@pytest.mark.parametrize("path", ALL_SAMPLES, ids=_ids(ALL_SAMPLES))
def test_defaulted_sample_is_valid(path: Path) -> None:
    sample = load_yaml(path)
    if sample["kind"] == "InferenceService":
        errors = validate_inference_service(default_inference_service(InferenceService.from_dict(sample)))
    else:
        errors = validate_inference_graph(default_inference_graph(InferenceGraph.from_dict(sample)))
    assert [str(e) for e in errors] == []


def test_defaulted_sample_is_still_accepted_by_kserve_crd(
    reference_schema: dict[str, Validate], subtests: pytest.Subtests
) -> None:
    for path in ALL_SAMPLES:
        with subtests.test(msg=f"{path.parent.name}/{path.stem}"):
            defaulted = _defaulted(load_yaml(path))
            assert reference_schema[defaulted["kind"]](defaulted) == []


@pytest.mark.parametrize("path", ALL_SAMPLES, ids=_ids(ALL_SAMPLES))
def test_sample_is_accepted_by_generated_crd(path: Path, our_schema: dict[str, Validate]) -> None:
    sample = load_yaml(path)
    assert our_schema[sample["kind"]](sample) == []
    defaulted = _defaulted(sample)
    assert our_schema[defaulted["kind"]](defaulted) == []
