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
- closes a loose shape that stands for a Kubernetes core type (its JSON schema names the type under
  :data:`CORE_TYPE`, e.g. ``Container`` or ``PodSpec``): every field of that core type is listed
  (those the model does not describe keep their contents as written), and any other field is pruned,
  as KServe's CRD, which spells out the whole pod spec, prunes ``storageUrl`` (a typo) or
  ``storage_uri`` (snake_case) beside ``storageUri``;
- drops ``title`` and ``default`` (defaulting is the ``defaults`` modules' job, not the API server's).
"""

from __future__ import annotations

from typing import Any

__all__ = ["CORE_TYPE", "CORE_TYPE_FIELDS", "SchemaConversionError", "structural_schema"]

PRESERVE = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING = "x-kubernetes-int-or-string"
CORE_TYPE = "x-zeroserve-core-type"
"""The JSON-schema key by which a loose model says which Kubernetes core type it stands for."""

_OBJECT = "object"
_LIST = "array"
_TEXT = "string"
_INT = "integer"
_BOOL = "boolean"
_CONTAINER = {
    "name": _TEXT, "image": _TEXT, "command": _LIST, "args": _LIST, "workingDir": _TEXT,
    "ports": _LIST, "envFrom": _LIST, "env": _LIST, "resources": _OBJECT, "resizePolicy": _LIST,
    "restartPolicy": _TEXT, "restartPolicyRules": _LIST, "volumeMounts": _LIST, "volumeDevices": _LIST,
    "livenessProbe": _OBJECT,
    "readinessProbe": _OBJECT, "startupProbe": _OBJECT, "lifecycle": _OBJECT,
    "terminationMessagePath": _TEXT, "terminationMessagePolicy": _TEXT, "imagePullPolicy": _TEXT,
    "securityContext": _OBJECT, "stdin": _BOOL, "stdinOnce": _BOOL, "tty": _BOOL,
}  # fmt: skip
_POD_SPEC = {
    "volumes": _LIST, "initContainers": _LIST, "containers": _LIST, "ephemeralContainers": _LIST,
    "restartPolicy": _TEXT, "terminationGracePeriodSeconds": _INT, "activeDeadlineSeconds": _INT,
    "dnsPolicy": _TEXT, "nodeSelector": _OBJECT, "serviceAccountName": _TEXT, "serviceAccount": _TEXT,
    "automountServiceAccountToken": _BOOL, "nodeName": _TEXT, "hostNetwork": _BOOL, "hostPID": _BOOL,
    "hostIPC": _BOOL, "shareProcessNamespace": _BOOL, "securityContext": _OBJECT,
    "imagePullSecrets": _LIST, "hostname": _TEXT, "hostnameOverride": _TEXT, "subdomain": _TEXT,
    "affinity": _OBJECT,
    "schedulerName": _TEXT, "tolerations": _LIST, "hostAliases": _LIST, "priorityClassName": _TEXT,
    "priority": _INT, "dnsConfig": _OBJECT, "readinessGates": _LIST, "runtimeClassName": _TEXT,
    "enableServiceLinks": _BOOL, "preemptionPolicy": _TEXT, "overhead": _OBJECT,
    "topologySpreadConstraints": _LIST, "setHostnameAsFQDN": _BOOL, "os": _OBJECT, "hostUsers": _BOOL,
    "schedulingGates": _LIST, "resourceClaims": _LIST, "resources": _OBJECT,
}  # fmt: skip
CORE_TYPE_FIELDS: dict[str, dict[str, str]] = {
    "Container": _CONTAINER,
    "PodSpec": _POD_SPEC,
    "EnvVar": {"name": _TEXT, "value": _TEXT, "valueFrom": _OBJECT},
    "ContainerPort": {
        "containerPort": _INT,
        "hostIP": _TEXT,
        "hostPort": _INT,
        "name": _TEXT,
        "protocol": _TEXT,
    },
    "ResourceRequirements": {"limits": _OBJECT, "requests": _OBJECT, "claims": _LIST},
}
"""Every field of the Kubernetes ``core/v1`` types the API types model loosely, with its JSON type."""
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
    core = node.get(CORE_TYPE)
    if core is not None:
        _close(out, core)
    return out


def _close(out: dict[str, Any], core: str) -> None:
    """List every field of a core type on a loose shape's schema instead of preserving unknown ones."""
    fields = CORE_TYPE_FIELDS.get(core)
    if fields is None:
        raise SchemaConversionError(f"unknown core type {core}")
    properties = out.setdefault("properties", {})
    for name, kind in fields.items():
        if name not in properties:
            properties[name] = _free(kind)
    out.pop(PRESERVE, None)
    out["type"] = "object"


def _free(kind: str) -> dict[str, Any]:
    if kind == "array":
        return {"type": "array", "items": {PRESERVE: True}}
    if kind == "object":
        return {"type": "object", PRESERVE: True}
    return {"type": kind}


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
