"""Fixtures of the API type tests: the samples in ``config/samples`` and validators built from the
reference CRDs in ``../shared/specs`` and from our generated CRDs.

Validators are *strict*: an object schema that does not preserve unknown fields gets
``additionalProperties: false``, because an API server would prune such a field silently, so a
sample with a field the CRD does not know must fail here rather than lose the field on a cluster.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "config" / "samples"

Validate = Callable[[dict[str, Any]], list[str]]


def load_yaml(path: Path) -> Any:
    """Parse one YAML file (with libyaml when available: the KServe CRD is 2 MB)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open() as handle:
        return yaml.load(handle, Loader=loader)


def sample_paths(kind_folder: str) -> list[Path]:
    """The sample files of one folder of ``config/samples`` (``isvc`` or ``ig``)."""
    return sorted((SAMPLES / kind_folder).glob("*.yaml"))


def strict_validator(schema: dict[str, Any]) -> Validate:
    """A function returning every violation of ``schema`` as ``path: message``."""
    strict = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (
                node.get("type") == "object"
                and "properties" in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
                and "additionalProperties" not in node
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(strict)
    properties = strict.setdefault("properties", {})
    properties["metadata"] = {"type": "object"}
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    validator = jsonschema.Draft7Validator(strict)

    def validate(obj: dict[str, Any]) -> list[str]:
        return [
            f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
            for error in sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
        ]

    return validate


def _crd_schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def reference_crd(shared_specs: Path, relative: str, kind: str) -> dict[str, Any]:
    """The CRD of ``kind`` in a reference file (Knative's files hold several documents)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for document in yaml.load_all((shared_specs / relative).read_text(), Loader=loader):
        is_crd = bool(document) and document.get("kind") == "CustomResourceDefinition"
        if is_crd and document["spec"]["names"]["kind"] == kind:
            return dict(document)
    raise LookupError(f"{relative} has no CRD for {kind}")


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
    return {kind: reference_crd(shared_specs, path, kind) for kind, path in REFERENCE_FILES.items()}


@pytest.fixture(scope="session")
def reference_schema(reference_crds: dict[str, dict[str, Any]]) -> dict[str, Validate]:
    """Strict validators from the reference CRDs' ``openAPIV3Schema``, by kind."""
    return {kind: strict_validator(_crd_schema(crd)) for kind, crd in reference_crds.items()}


@pytest.fixture(scope="session")
def our_schema() -> dict[str, Validate]:
    """Strict validators from the CRDs zeroserve generates, by kind."""
    from zeroserve.apis.crds import all_crds

    return {crd["spec"]["names"]["kind"]: strict_validator(_crd_schema(crd)) for crd in all_crds()}
