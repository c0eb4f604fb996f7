"""Validate objects against a CRD's ``openAPIV3Schema`` the way a structural-schema API server would.

``jsonschema`` alone accepts unknown fields, which an API server would silently *prune*; so objects
without ``x-kubernetes-preserve-unknown-fields`` get ``additionalProperties: false`` here, and a field
the CRD does not know fails the test instead of vanishing on a cluster.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)

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

    walk(schema)
    # metadata is validated by the API server itself, not the CRD schema
    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
    return schema


@functools.cache
def crd_validator(crd_path: Path, version: str) -> jsonschema.Draft7Validator:
    """A validator for one version of the CRD at ``crd_path``."""
    crd = yaml.load(crd_path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return jsonschema.Draft7Validator(_strict(v["schema"]["openAPIV3Schema"]))
    raise LookupError(f"{crd_path} has no version {version}")


def schema_errors(validator: jsonschema.Draft7Validator, obj: dict[str, Any]) -> list[str]:
    """Every violation, as ``path: message``."""
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    ]
