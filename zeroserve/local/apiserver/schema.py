"""Structural ``openAPIV3Schema`` semantics: pruning, defaulting and validation with field paths.

A CRD's schema is applied the way the Kubernetes API server applies it: unknown fields are pruned
(and reported, so a strict request can refuse them), ``null`` is dropped where the schema is not
``nullable``, ``default`` values fill absent fields, and validation reports *every* error with its
dotted field path and Kubernetes' wording. ``anyOf`` / ``oneOf`` / ``allOf`` / ``not`` value
validations are delegated to :mod:`jsonschema`.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema

from zeroserve.local.apiserver.errors import FieldError

__all__ = ["StructuralSchema"]

_JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
}
_METADATA_KEYS = {"apiVersion", "kind", "metadata"}


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))


def _has_type(value: Any, expected: str) -> bool:
    if expected == "integer":
        is_int = isinstance(value, int) and not isinstance(value, bool)
        return is_int or (isinstance(value, float) and value.is_integer())
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    python_type = _JSON_TYPES.get(expected)
    return python_type is None or isinstance(value, python_type)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class StructuralSchema:
    """One version's ``openAPIV3Schema``, applied to whole objects.

    Args:
        schema: the ``openAPIV3Schema`` mapping; ``None`` keeps every field and validates nothing.
    """

    def __init__(self, schema: dict[str, Any] | None) -> None:
        self._schema = schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

    @property
    def raw(self) -> dict[str, Any]:
        """The schema as given."""
        return self._schema

    # -- pruning -----------------------------------------------------------------------------------

    def prune(self, obj: dict[str, Any]) -> list[str]:
        """Drop fields the schema does not declare, and ``null`` where it is not nullable, in place.

        ``apiVersion``, ``kind`` and ``metadata`` at the root are always kept (they are validated apart).

        Args:
            obj: the object to prune.

        Returns:
            The dotted paths of the unknown fields removed.
        """
        unknown: list[str] = []
        self._prune(self._schema, obj, "", unknown, root=True)
        return unknown

    def _prune(
        self, schema: dict[str, Any], value: Any, path: str, unknown: list[str], root: bool = False
    ) -> None:
        if isinstance(value, dict):
            properties: dict[str, Any] = schema.get("properties") or {}
            additional = schema.get("additionalProperties")
            preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
            embedded = root or bool(schema.get("x-kubernetes-embedded-resource"))
            for key in list(value):
                child_path = _join(path, key)
                if embedded and key in _METADATA_KEYS:
                    continue
                sub = properties.get(key)
                if sub is None and isinstance(additional, dict):
                    sub = additional
                if sub is None:
                    if not preserve and additional is not True:
                        unknown.append(child_path)
                        del value[key]
                    continue
                if value[key] is None and not sub.get("nullable"):
                    del value[key]
                    continue
                self._prune(sub, value[key], child_path, unknown)
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, dict):
                for index, item in enumerate(value):
                    self._prune(items, item, f"{path}[{index}]", unknown)

    # -- defaulting ---------------------------------------------------------------------------------

    def apply_defaults(self, obj: dict[str, Any]) -> None:
        """Fill absent fields from the schema's ``default`` values, in place.

        Args:
            obj: the (pruned) object.
        """
        self._default(self._schema, obj, root=True)

    def _default(self, schema: dict[str, Any], value: Any, root: bool = False) -> None:
        if isinstance(value, dict):
            properties: dict[str, Any] = schema.get("properties") or {}
            for key, sub in properties.items():
                if root and key in _METADATA_KEYS:
                    continue
                if key not in value and "default" in sub:
                    value[key] = copy.deepcopy(sub["default"])
                if key in value:
                    self._default(sub, value[key])
            additional = schema.get("additionalProperties")
            if isinstance(additional, dict):
                for key, item in value.items():
                    if key not in properties:
                        self._default(additional, item)
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, dict):
                for item in value:
                    self._default(items, item)

    # -- validation ---------------------------------------------------------------------------------

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        """Validate a pruned and defaulted object.

        Args:
            obj: the object.

        Returns:
            Every error found, each with its field path; empty when the object is valid.
        """
        errors: list[FieldError] = []
        schema = dict(self._schema)
        properties = {k: v for k, v in (schema.get("properties") or {}).items() if k not in _METADATA_KEYS}
        schema["properties"] = properties
        body = {k: v for k, v in obj.items() if k not in _METADATA_KEYS}
        self._validate(schema, body, "", errors)
        return errors

    def _validate(self, schema: dict[str, Any], value: Any, path: str, errors: list[FieldError]) -> None:
        if value is None:
            if not schema.get("nullable") and schema.get("type"):
                errors.append(self._type_error(path, value, str(schema["type"])))
            return
        if schema.get("x-kubernetes-int-or-string"):
            if not (isinstance(value, str) or _has_type(value, "integer")):
                errors.append(self._type_error(path, value, "integer,string"))
                return
        elif "type" in schema and not _has_type(value, schema["type"]):
            errors.append(self._type_error(path, value, schema["type"]))
            return
        before = len(errors)
        self._validate_value(schema, value, path, errors)
        if len(errors) > before:
            return
        if isinstance(value, dict):
            properties: dict[str, Any] = schema.get("properties") or {}
            for key in schema.get("required") or []:
                if key not in value:
                    errors.append(FieldError("FieldValueRequired", _join(path, key), "Required value"))
            additional = schema.get("additionalProperties")
            for key, item in value.items():
                sub = properties.get(key)
                if sub is None and isinstance(additional, dict):
                    sub = additional
                if sub is not None:
                    self._validate(sub, item, _join(path, key), errors)
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, dict):
                for index, item in enumerate(value):
                    self._validate(items, item, f"{path}[{index}]", errors)

    @staticmethod
    def _type_error(path: str, value: Any, expected: str) -> FieldError:
        actual = _type_name(value)
        where = path or "<root>"
        return FieldError(
            "FieldValueTypeInvalid",
            path,
            f'Invalid value: "{actual}": {where} in body must be of type {expected}: "{actual}"',
        )

    def _validate_value(
        self, schema: dict[str, Any], value: Any, path: str, errors: list[FieldError]
    ) -> None:
        where = path or "<root>"

        def bad(shown: Any, rule: str) -> None:
            errors.append(
                FieldError(
                    "FieldValueInvalid", path, f"Invalid value: {_show(shown)}: {where} in body {rule}"
                )
            )

        enum = schema.get("enum")
        if enum is not None and value not in enum:
            supported = ", ".join(_show(v) for v in enum)
            message = f"Unsupported value: {_show(value)}: supported values: {supported}"
            errors.append(FieldError("FieldValueNotSupported", path, message))
        if isinstance(value, str):
            if "pattern" in schema and not re.search(schema["pattern"], value):
                bad(value, f"should match '{schema['pattern']}'")
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                bad(value, f"should be at most {schema['maxLength']} chars long")
            if "minLength" in schema and len(value) < schema["minLength"]:
                bad(value, f"should be at least {schema['minLength']} chars long")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if "maximum" in schema and (
                value > schema["maximum"] or (schema.get("exclusiveMaximum") and value == schema["maximum"])
            ):
                bad(value, f"should be less than or equal to {schema['maximum']}")
            if "minimum" in schema and (
                value < schema["minimum"] or (schema.get("exclusiveMinimum") and value == schema["minimum"])
            ):
                bad(value, f"should be greater than or equal to {schema['minimum']}")
        elif isinstance(value, list):
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                bad(len(value), f"should have at most {schema['maxItems']} items")
            if "minItems" in schema and len(value) < schema["minItems"]:
                bad(len(value), f"should have at least {schema['minItems']} items")
        for keyword, words in (("anyOf", "any of"), ("oneOf", "one and only one of"), ("allOf", "all of")):
            if keyword in schema and not jsonschema.Draft4Validator(
                {keyword: _plain(schema[keyword])}
            ).is_valid(value):
                bad(value, f"must validate {words} the schemas")
        if "not" in schema and jsonschema.Draft4Validator(_plain(schema["not"])).is_valid(value):
            bad(value, "must not validate the schema")


def _plain(schema: Any) -> Any:
    """Strip Kubernetes extensions so :mod:`jsonschema` sees plain JSON Schema."""
    if isinstance(schema, list):
        return [_plain(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    return {k: _plain(v) for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
