"""CustomResourceDefinition admission: the checks the API server runs on a CRD and the status it owns."""

from __future__ import annotations

from typing import Any

from zeroserve.local.apiserver.errors import FieldError
from zeroserve.local.apiserver.meta import now_timestamp

__all__ = ["crd_errors", "crd_status"]


def crd_errors(crd: dict[str, Any], reserved: set[tuple[str, str]]) -> list[FieldError]:
    """Check a CRD before it is stored.

    Args:
        crd: the CRD object.
        reserved: ``(group, plural)`` pairs served by built-in kinds, which a CRD may not take.

    Returns:
        Every error with its field path.
    """
    errors: list[FieldError] = []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("FieldValueRequired", "spec", "Required value")]
    group = spec.get("group")
    names: dict[str, Any] = spec["names"] if isinstance(spec.get("names"), dict) else {}
    if not group:
        errors.append(FieldError("FieldValueRequired", "spec.group", "Required value"))
    for key in ("plural", "kind"):
        if not names.get(key):
            errors.append(FieldError("FieldValueRequired", f"spec.names.{key}", "Required value"))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        supported = 'supported values: "Cluster", "Namespaced"'
        errors.append(
            FieldError("FieldValueNotSupported", "spec.scope", f'Unsupported value: "{scope}": {supported}')
        )
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errors.append(
            FieldError(
                "FieldValueRequired", "spec.versions", "Required value: must have at least one version"
            )
        )
    else:
        storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
        if len(storage) != 1:
            errors.append(
                FieldError(
                    "FieldValueInvalid",
                    "spec.versions",
                    "Invalid value: must have exactly one version marked as storage version",
                )
            )
        for index, version in enumerate(versions):
            if not isinstance(version, dict) or not version.get("name"):
                errors.append(
                    FieldError("FieldValueRequired", f"spec.versions[{index}].name", "Required value")
                )
                continue
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema is not None and not isinstance(schema, dict):
                errors.append(
                    FieldError(
                        "FieldValueInvalid",
                        f"spec.versions[{index}].schema.openAPIV3Schema",
                        "Invalid value: must be an object",
                    )
                )
    if group and names.get("plural"):
        expected = f"{names['plural']}.{group}"
        name = crd.get("metadata", {}).get("name")
        if name != expected:
            errors.append(
                FieldError(
                    "FieldValueInvalid",
                    "metadata.name",
                    f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
                )
            )
        if (group, names["plural"]) in reserved:
            errors.append(
                FieldError(
                    "FieldValueInvalid",
                    "spec.names.plural",
                    f'Invalid value: "{expected}": is served by a built-in kind',
                )
            )
    return errors


def crd_status(crd: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """The status the API server gives an accepted CRD (names accepted, established).

    Args:
        crd: the CRD being stored.
        previous: its status before this write, whose transition times are kept.

    Returns:
        The new ``status``.
    """
    spec = crd["spec"]
    since = {c.get("type"): c.get("lastTransitionTime") for c in (previous or {}).get("conditions") or []}
    now = now_timestamp()
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    stored = list((previous or {}).get("storedVersions") or [])
    if storage not in stored:
        stored.append(storage)
    return {
        "acceptedNames": dict(spec["names"]),
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": since.get("NamesAccepted") or now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": since.get("Established") or now,
            },
        ],
        "storedVersions": stored,
    }
