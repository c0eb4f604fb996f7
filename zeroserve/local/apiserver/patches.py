"""PATCH bodies: JSON merge patch, JSON patch, strategic merge patch and server-side apply.

Strategic merge patch is applied as a JSON merge patch, honouring the ``$patch: delete|replace``
directives, which is what Kubernetes does for custom resources (they have no patch strategy). Server-side
apply is approximated: the applied configuration is merged onto the live object (fields it omits are kept;
managedFields are not tracked).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import yaml

from zeroserve.local.apiserver.errors import bad_request, unsupported_media_type

__all__ = ["APPLY_PATCH", "JSON_PATCH", "MERGE_PATCH", "STRATEGIC_MERGE_PATCH", "apply_patch", "merge_patch"]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (plus the strategic ``$patch`` directives).

    Args:
        target: the current value (not modified).
        patch: the patch.

    Returns:
        The patched value.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patch(current: dict[str, Any], content_type: str, body: bytes) -> dict[str, Any]:
    """Apply a PATCH request body to an object.

    Args:
        current: the live object (not modified).
        content_type: the request's ``Content-Type`` (parameters ignored).
        body: the raw request body.

    Returns:
        The patched object.

    Raises:
        ApiError: 400 for a malformed patch, 415 for an unknown patch type.
    """
    media = content_type.split(";")[0].strip()
    try:
        if media == JSON_PATCH:
            operations = json.loads(body)
            return dict(jsonpatch.apply_patch(current, operations))
        if media in (MERGE_PATCH, STRATEGIC_MERGE_PATCH):
            patch = json.loads(body)
            if not isinstance(patch, dict):
                raise bad_request("merge patch body must be a JSON object")
            return dict(merge_patch(current, patch))
        if media == APPLY_PATCH:
            applied = yaml.safe_load(body)
            if not isinstance(applied, dict):
                raise bad_request("apply patch body must be an object")
            return dict(merge_patch(current, applied))
    except (ValueError, yaml.YAMLError, jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise bad_request(f"the patch could not be applied: {exc}") from exc
    raise unsupported_media_type(content_type)
