"""Turn a pydantic model's JSON schema into a Kubernetes *structural* ``openAPIV3Schema``.

Kubernetes accepts a CRD schema only if it is structural: every node has a ``type`` (except
``x-kubernetes-int-or-string`` and ``x-kubernetes-preserve-unknown-fields`` nodes), no ``$ref``, no
``anyOf`` / ``oneOf`` beyond the int-or-string form, and ``properties`` never beside
``additionalProperties``. pydantic's JSON schema has all of those, so :func:`structural_schema`:

- inlines every ``$ref`` from ``$defs``;
- folds ``Optional[X]`` (``anyOf: [X, {type: null}]``) into ``X``, keeping the field's own keys
  (``enum``, ``format``, ``description``);
- keeps ``int | str`` (:data:`~zeroserve.apis.meta.Quantity`) as ``anyOf`` integer/string with
  ``x-kubernetes-int-or-string``;
- marks free-form objects (``dict[str, Any]``, ``Any``) and :class:`~zeroserve.apis.meta.LooseModel`
  shapes with ``x-kubernetes-preserve-unknown-fields: true``, and closed models with nothing, so the
  API server prunes unknown fields there as KServe's and Knative's CRDs do;
- drops ``title`` and ``default`` (defaulting is the ``defaults`` modules' job, not the API server's).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SchemaConversionError", "structural_schema"]

PRESERVE = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING = "x-kubernetes-int-or-string"
_KEEP = ("type", "format", "enum", "description", "required", "minimum", "maximum", PRESERVE)
_NULL = {"type": "null"}


class SchemaConversionError(ValueError):
    """A JSON schema construct with no structural equivalent (e.g. a union of two models)."""


def structural_schema(json_schema: dict[str, Any]) -> dict[str, Any]:
    """Convert a pydantic JSON schema (with ``$defs``) to a structural schema.

    Args:
        json_schema: ``Model.model_json_schema(by_alias=True)``.

    Returns:
        A new schema with no ``$ref``, ``$defs`` or ``title``.
    """
    defs = json_schema.get("$defs", {})
    return _convert(json_schema, defs, ())


def _convert(node: dict[str, Any], defs: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            raise SchemaConversionError(f"recursive type {name} cannot be inlined")
        target = _convert(defs[name], defs, (*seen, name))
        return _merge(target, _own_keys(node))
    if "anyOf" in node:
        return _convert_union(node, defs, seen)
    if "allOf" in node and len(node["allOf"]) == 1:
        inner = _convert(node["allOf"][0], defs, seen)
        return _merge(inner, _own_keys(node))
    out: dict[str, Any] = {}
    for key in _KEEP:
        if key in node:
            out[key] = node[key]
    if "items" in node:
        out["items"] = _convert(node["items"], defs, seen)
    properties = node.get("properties")
    if properties:
        out["properties"] = {name: _convert(prop, defs, seen) for name, prop in properties.items()}
    additional = node.get("additionalProperties")
    if isinstance(additional, dict) and not properties:
        out["additionalProperties"] = _convert(additional, defs, seen)
    elif additional is True and not properties:
        out[PRESERVE] = True
    if "type" not in out or (
        out["type"] == "object" and not properties and "additionalProperties" not in out
    ):
        out[PRESERVE] = True
    if out.get("type") == "array" and "items" not in out:
        out["items"] = {PRESERVE: True}
    return out


def _convert_union(node: dict[str, Any], defs: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    branches = [branch for branch in node["anyOf"] if branch != _NULL]
    own = _own_keys(node)
    if node.get(INT_OR_STRING) or _is_int_or_string(branches):
        return {"anyOf": [{"type": "integer"}, {"type": "string"}], INT_OR_STRING: True}
    if len(branches) == 1:
        inner = branches[0]
        if inner.get(INT_OR_STRING) or _is_int_or_string(inner.get("anyOf", [])):
            return {"anyOf": [{"type": "integer"}, {"type": "string"}], INT_OR_STRING: True}
        return _merge(_convert(inner, defs, seen), own)
    raise SchemaConversionError(f"union {branches} has no structural form")


def _is_int_or_string(branches: list[dict[str, Any]]) -> bool:
    types = sorted(branch.get("type", "") for branch in branches)
    return types == ["integer", "string"]


def _own_keys(node: dict[str, Any]) -> dict[str, Any]:
    return {key: node[key] for key in ("enum", "format", "description") if key in node}


def _merge(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    return {**base, **own}
