"""Validate objects against a CRD's ``openAPIV3Schema`` the way a structural-schema API server would.

``jsonschema`` alone accepts unknown fields, which an API server would silently *prune*; so every
object schema with ``properties`` and without ``x-kubernetes-preserve-unknown-fields`` gets
``additionalProperties: false`` here, and a field the CRD does not know fails the test instead of
vanishing on a cluster. ``metadata`` is the API server's own business, so the schema accepts any.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

Validate = Callable[[dict[str, Any]], list[str]]
"""A validator: every violation of the schema, as ``path: message`` strings (empty when valid)."""


def load_yaml_documents(path: Path) -> Iterator[Any]:
    """Parse every document of a YAML file (with libyaml when available: KServe's CRD is 2 MB)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    yield from yaml.load_all(path.read_text(), Loader=loader)


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` that rejects unknown fields where an API server would prune them."""
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
    return strict


def strict_validator(schema: dict[str, Any]) -> Validate:
    """A validator of ``schema`` made strict by :func:`strict_schema`.

    Args:
        schema: An ``openAPIV3Schema`` (left unchanged).

    Returns:
        A function returning every violation as ``path: message``, sorted by path.
    """
    validator = jsonschema.Draft7Validator(strict_schema(schema))

    def validate(obj: dict[str, Any]) -> list[str]:
        errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
        return [f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}" for error in errors]

    return validate


def crd_schema(crd: dict[str, Any], version: str | None = None) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of one version of ``crd`` (its first version when ``version`` is None)."""
    for entry in crd["spec"]["versions"]:
        if version is None or entry["name"] == version:
            schema: dict[str, Any] = entry["schema"]["openAPIV3Schema"]
            return schema
    raise LookupError(f"CRD {crd['metadata']['name']} has no version {version}")


def crd_of_kind(path: Path, kind: str) -> dict[str, Any]:
    """The CRD for ``kind`` in a YAML file (Knative's files hold several documents)."""
    for document in load_yaml_documents(path):
        is_crd = bool(document) and document.get("kind") == "CustomResourceDefinition"
        if is_crd and document["spec"]["names"]["kind"] == kind:
            return dict(document)
    raise LookupError(f"{path} has no CRD for {kind}")


@functools.cache
def crd_file_validator(path: Path, kind: str, version: str | None = None) -> Validate:
    """A strict validator for ``kind`` (at ``version``) from the CRD file at ``path``, built once."""
    return strict_validator(crd_schema(crd_of_kind(path, kind), version))
