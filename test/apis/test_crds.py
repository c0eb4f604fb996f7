"""The generated CRDs: structural, named and columned like the reference CRDs, never pruning a field
the reference CRDs accept, and identical to the files in config/crd (staleness)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zeroserve.apis.crds import all_crds, crd_files, crd_for

from .conftest import REFERENCE_FILES, ROOT

PRESERVE = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING = "x-kubernetes-int-or-string"
KINDS = [crd["spec"]["names"]["kind"] for crd in all_crds()]


def structural_problems(node: Any, path: str = "") -> list[str]:
    """Why a schema is not structural (the rules the API server enforces), one line per problem."""
    if not isinstance(node, dict):
        return [f"{path}: schema must be an object"]
    problems = [
        f"{path}: {key} is not allowed" for key in ("$ref", "$defs", "oneOf", "allOf", "not") if key in node
    ]
    if "anyOf" in node and not (
        node.get(INT_OR_STRING) and node["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    ):
        problems.append(f"{path}: anyOf is allowed only in the int-or-string form")
    if "type" not in node and not node.get(PRESERVE) and not node.get(INT_OR_STRING):
        problems.append(f"{path}: type is required")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{path}: properties and additionalProperties are exclusive")
    if "additionalProperties" in node and not isinstance(node["additionalProperties"], dict):
        problems.append(f"{path}: additionalProperties must be a schema")
    if node.get("type") == "array" and not isinstance(node.get("items"), dict):
        problems.append(f"{path}: an array needs one items schema")
    for name, child in (node.get("properties") or {}).items():
        problems += structural_problems(child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            problems += structural_problems(node[key], f"{path}[{key}]")
    return problems


def _schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("kind", KINDS)
def test_generated_crd_is_structural(kind: str) -> None:
    schema = _schema(crd_for(kind))
    assert structural_problems(schema) == []
    assert schema["properties"]["metadata"] == {"type": "object"}
    assert crd_for(kind)["spec"]["versions"][0]["subresources"] == {"status": {}}


def test_structural_check_catches_problems() -> None:
    bad = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/x"},
            "b": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "c": {"type": "array"},
            "d": {"type": "object", "properties": {}, "additionalProperties": True},
        },
    }
    assert structural_problems(bad) == [
        ".a: $ref is not allowed",
        ".a: type is required",
        ".b: anyOf is allowed only in the int-or-string form",
        ".b: type is required",
        ".c: an array needs one items schema",
        ".d: properties and additionalProperties are exclusive",
        ".d: additionalProperties must be a schema",
    ]


def _names_and_columns(crd: dict[str, Any]) -> dict[str, Any]:
    version = crd["spec"]["versions"][0]
    names = crd["spec"]["names"]
    return {
        "name": crd["metadata"]["name"],
        "group": crd["spec"]["group"],
        "scope": crd["spec"]["scope"],
        "version": version["name"],
        "kind": names["kind"],
        "listKind": names.get("listKind", f"{names['kind']}List"),
        "plural": names["plural"],
        "singular": names["singular"],
        "shortNames": sorted(names.get("shortNames", [])),
        "categories": sorted(names.get("categories", [])),
        "columns": [
            (c["name"], c["type"], c["jsonPath"], c.get("priority", 0))
            for c in version.get("additionalPrinterColumns", [])
        ],
    }


def test_names_and_printer_columns_match_reference(
    reference_crds: dict[str, dict[str, Any]], subtests: pytest.Subtests
) -> None:
    for kind in sorted(REFERENCE_FILES):
        with subtests.test(msg=kind):
            assert _names_and_columns(crd_for(kind)) == _names_and_columns(reference_crds[kind])


def test_inference_service_columns_are_kserves() -> None:
    columns = [
        c["name"] for c in crd_for("InferenceService")["spec"]["versions"][0]["additionalPrinterColumns"]
    ]
    assert columns == [
        "URL",
        "Ready",
        "Prev",
        "Latest",
        "PrevRolledoutRevision",
        "LatestReadyRevision",
        "Age",
    ]
    assert crd_for("InferenceService")["spec"]["names"]["shortNames"] == ["isvc"]
    assert crd_for("InferenceGraph")["spec"]["names"]["shortNames"] == ["ig"]


def pruned_fields(reference: dict[str, Any], ours: dict[str, Any], path: str = "") -> list[str]:
    """Fields the reference schema accepts that ours would prune (ours closed and not naming them)."""
    if ours.get(PRESERVE) and "properties" not in ours:
        return []
    missing: list[str] = []
    ours_props = ours.get("properties") or {}
    for name, child in (reference.get("properties") or {}).items():
        if name == "metadata" and path == "":
            continue
        if name in ours_props:
            missing += pruned_fields(child, ours_props[name], f"{path}.{name}")
        elif not ours.get(PRESERVE):
            missing.append(f"{path}.{name}")
    if isinstance(reference.get("items"), dict) and isinstance(ours.get("items"), dict):
        missing += pruned_fields(reference["items"], ours["items"], f"{path}[]")
    ref_map, our_map = reference.get("additionalProperties"), ours.get("additionalProperties")
    if isinstance(ref_map, dict) and isinstance(our_map, dict):
        missing += pruned_fields(ref_map, our_map, f"{path}[*]")
    return missing


def test_no_field_of_the_reference_crd_is_pruned(
    reference_crds: dict[str, dict[str, Any]], subtests: pytest.Subtests
) -> None:
    for kind in sorted(REFERENCE_FILES):
        with subtests.test(msg=kind):
            assert pruned_fields(_schema(reference_crds[kind]), _schema(crd_for(kind))) == []


def test_config_crd_is_not_stale() -> None:
    folder = ROOT / "config" / "crd"
    wanted = crd_files()
    present = {p.name: p.read_text() for p in folder.glob("*.yaml")}
    assert sorted(present) == sorted(wanted), "run: .venv/bin/python hack/gen-crds.py"
    stale = [name for name, text in wanted.items() if present[name] != text]
    assert stale == [], f"stale files {stale}; run: .venv/bin/python hack/gen-crds.py"


def test_all_crds_returns_fresh_copies() -> None:
    first = all_crds()
    first[0]["spec"]["names"]["kind"] = "Changed"
    assert all_crds()[0]["spec"]["names"]["kind"] == "InferenceService"
    with pytest.raises(KeyError):
        crd_for("Deployment")


def test_crds_do_not_need_the_source_tree(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "from zeroserve.apis.crds import all_crds; print(len(all_crds()))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(len(KINDS))
