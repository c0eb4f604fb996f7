"""Fixtures of the API type tests: the samples in ``config/samples`` and strict validators built from
the reference CRDs in ``../shared/specs`` and from our generated CRDs.

Validators are *strict* (``support.crd_schema``): an object schema that does not preserve unknown
fields rejects them, because an API server would prune such a field silently, so a sample with a field
the CRD does not know must fail here rather than lose the field on a cluster. Only reference
comparisons ask for ``reference_crds`` / ``reference_schema``; they skip in a user's clone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.crd_schema import Validate, crd_of_kind, crd_schema, load_yaml_documents, strict_validator
from support.reference import ROOT

__all__ = ["REFERENCE_FILES", "ROOT", "SAMPLES", "Validate", "load_yaml", "sample_paths"]

SAMPLES = ROOT / "config" / "samples"


def load_yaml(path: Path) -> Any:
    """Parse a single-document YAML file."""
    return next(load_yaml_documents(path))


def sample_paths(kind_folder: str) -> list[Path]:
    """The sample files of one folder of ``config/samples`` (``isvc`` or ``ig``)."""
    return sorted((SAMPLES / kind_folder).glob("*.yaml"))


REFERENCE_FILES = {
    "InferenceService": "kserve/inferenceservices.crd.yaml",
    "InferenceGraph": "kserve/inferencegraphs.crd.yaml",
    "Service": "knative-serving/service.yaml",
    "Configuration": "knative-serving/configuration.yaml",
    "Revision": "knative-serving/revision.yaml",
    "Route": "knative-serving/route.yaml",
    "Broker": "knative-eventing/broker.yaml",
    "Trigger": "knative-eventing/trigger.yaml",
}


@pytest.fixture(scope="session")
def reference_crds(shared_specs: Path) -> dict[str, dict[str, Any]]:
    """KServe's and Knative's own CRDs, by kind."""
    return {kind: crd_of_kind(shared_specs / path, kind) for kind, path in REFERENCE_FILES.items()}


@pytest.fixture(scope="session")
def reference_schema(reference_crds: dict[str, dict[str, Any]]) -> dict[str, Validate]:
    """Strict validators from the reference CRDs' ``openAPIV3Schema``, by kind."""
    return {kind: strict_validator(crd_schema(crd)) for kind, crd in reference_crds.items()}


@pytest.fixture(scope="session")
def our_schema() -> dict[str, Validate]:
    """Strict validators from the CRDs zeroserve generates, by kind."""
    from zeroserve.apis.crds import all_crds

    return {crd["spec"]["names"]["kind"]: strict_validator(crd_schema(crd)) for crd in all_crds()}
