"""Admission: what happens to an object between the request and storage.

Decoding (apiVersion and kind checks), pruning, defaulting and validation against the version's
structural schema and the shared metadata rules, then the webhooks of the kinds
:mod:`zeroserve.apis.admission` covers (InferenceService, InferenceGraph, Knative Serving and
Eventing, HTTPRoute), and the fields the server fills for built-in kinds.

The webhooks run on create and update of the main resource, never on the ``status`` subresource, as
on a cluster with KServe's and Knative's webhooks installed: what is stored is the *defaulted* object
(KServe's mutating webhook rewrites ``sklearn:`` to ``model:``), and an object that breaks a rule is
refused with ``422 Invalid`` listing every error with its field path. An update that changes neither
the spec nor the labels and annotations (a controller adding or removing its finalizer, an owner
reference) is not sent to them, so an object stored before a rule existed can still be finalized.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from zeroserve.apis.admission import admit as admit_kind
from zeroserve.apis.field_errors import InvalidObjectError
from zeroserve.local.apiserver import errors
from zeroserve.local.apiserver.crds import crd_errors, crd_status
from zeroserve.local.apiserver.meta import validate_metadata
from zeroserve.local.apiserver.resources import ResourceType

__all__ = ["CRD_KEY", "NAMESPACE_KEY", "admit", "decode", "generation_body", "prepare"]

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACE_KEY = ("", "namespaces")
SECRET_KEY = ("", "secrets")


def generation_body(obj: dict[str, Any], status_subresource: bool) -> dict[str, Any]:
    """The part of an object whose change bumps ``metadata.generation``.

    Args:
        obj: the object.
        status_subresource: whether ``status`` is a subresource (then it does not count).

    Returns:
        The object without metadata (and status).
    """
    skip = {"metadata", "apiVersion", "kind"} | ({"status"} if status_subresource else set())
    return {k: v for k, v in obj.items() if k not in skip}


def decode(rt: ResourceType, version: str, body: Any) -> dict[str, Any]:
    """Check a request body's apiVersion and kind and copy it into the stored form.

    Args:
        rt: the resource type addressed.
        version: the version in the URL.
        body: the decoded body.

    Returns:
        A deep copy with the storage ``apiVersion``, without managedFields.

    Raises:
        ApiError: 400 when the body is not an object or names another version or kind.
    """
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON or YAML object")
    obj = copy.deepcopy(body)
    expected = rt.api_version(version)
    if obj.get("apiVersion", expected) != expected:
        given = obj["apiVersion"]
        raise errors.bad_request(
            f"the API version in the data ({given}) does not match the expected API version ({expected})"
        )
    if obj.get("kind", rt.kind) != rt.kind:
        raise errors.bad_request(
            f"the kind in the data ({obj['kind']}) does not match the expected kind ({rt.kind})"
        )
    if not isinstance(obj.setdefault("metadata", {}), dict):
        raise errors.bad_request("metadata must be an object")
    obj["apiVersion"] = rt.api_version(rt.storage_version.name)
    obj["kind"] = rt.kind
    obj["metadata"].pop("managedFields", None)
    obj["metadata"].pop("selfLink", None)
    return obj


def admit(
    rt: ResourceType,
    version: str,
    obj: dict[str, Any],
    field_validation: str,
    reserved: set[tuple[str, str]],
    *,
    old: dict[str, Any] | None = None,
    webhooks: bool = True,
) -> list[str]:
    """Prune, default and validate ``obj`` in place, as the API server does before storing.

    Args:
        rt: the resource type.
        version: the version whose schema applies.
        obj: the object (modified).
        field_validation: ``Strict`` (unknown fields are an error), ``Warn`` or ``Ignore``.
        reserved: ``(group, plural)`` of built-in kinds, which CRDs may not define.
        old: on update, the stored object (immutable fields are checked against it).
        webhooks: whether the kind's admission webhooks run (not for the ``status`` subresource).

    Returns:
        Warnings for the client (unknown fields, in ``Warn`` mode).

    Raises:
        ApiError: 400 for unknown fields in ``Strict`` mode, 422 with every invalid field.
    """
    schema = rt.version(version) or rt.storage_version
    unknown = schema.structural.prune(obj)
    if unknown and field_validation == "Strict":
        listed = ", ".join(f'unknown field "{path}"' for path in unknown)
        kind = rt.kind
        prefix = f'{kind} in version "{version}" cannot be handled as a {kind}'
        raise errors.bad_request(f"{prefix}: strict decoding error: {listed}")
    warnings = [f'unknown field "{path}"' for path in unknown] if field_validation != "Ignore" else []
    schema.structural.apply_defaults(obj)
    found = validate_metadata(obj["metadata"], dns_label=rt.key == NAMESPACE_KEY)
    found += schema.structural.validate(obj)
    if rt.key == CRD_KEY:
        found += crd_errors(obj, reserved)
    if found:
        raise errors.invalid(rt.kind, rt.group, str(obj["metadata"].get("name") or ""), found)
    if webhooks and not rt.builtin and _webhooks_see(obj, old):
        _run_webhooks(rt, obj, old)
    return warnings


_NOT_SEEN = {"status", "metadata"}


def _webhooks_see(obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """Whether an update is one the webhooks look at (it changes the spec, labels or annotations)."""
    if old is None:
        return True
    body = {k: v for k, v in obj.items() if k not in _NOT_SEEN}
    before = {k: v for k, v in old.items() if k not in _NOT_SEEN}
    meta, old_meta = obj["metadata"], old.get("metadata") or {}
    return (
        body != before
        or (meta.get("labels") or {}) != (old_meta.get("labels") or {})
        or (meta.get("annotations") or {}) != (old_meta.get("annotations") or {})
    )


def _run_webhooks(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Default and validate ``obj`` (in place) with its kind's webhooks; 422 with every error."""
    try:
        defaulted = admit_kind(obj, old)
    except InvalidObjectError as exc:
        causes = [errors.FieldError("FieldValueInvalid", e.path, e.message) for e in exc.errors]
        raise errors.invalid(rt.kind, rt.group, str(obj["metadata"].get("name") or ""), causes) from None
    if defaulted is obj:
        return
    for key in [k for k in obj if k not in defaulted and k not in _NOT_SEEN]:
        del obj[key]
    for key, value in defaulted.items():
        if key not in _NOT_SEEN:
            obj[key] = value
    meta, defaulted_meta = obj["metadata"], defaulted.get("metadata") or {}
    for key in ("labels", "annotations"):
        if defaulted_meta.get(key):
            meta[key] = defaulted_meta[key]


def prepare(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Fill the fields the server owns for some built-in kinds (CRD status, namespace phase, Secret data).

    Args:
        rt: the resource type.
        obj: the object about to be stored (modified).
        old: its previous state, if any.
    """
    if rt.key == CRD_KEY:
        obj["status"] = crd_status(obj, (old or {}).get("status"))
    elif rt.key == NAMESPACE_KEY:
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        terminating = "deletionTimestamp" in obj["metadata"]
        obj["status"] = {"phase": "Terminating" if terminating else "Active"}
    elif rt.key == SECRET_KEY:
        obj.setdefault("type", "Opaque")
        plain = obj.pop("stringData", None) or {}
        if plain:
            data = obj.setdefault("data", {})
            for key, value in plain.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
