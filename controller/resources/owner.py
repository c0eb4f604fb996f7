"""Owner references: every object the controller creates is owned (and garbage-collected) by its parent."""

from __future__ import annotations

from typing import Any

from zeroserve.apis.meta import KubeObject

__all__ = ["is_owned_by", "owner_reference"]


def owner_reference(owner: KubeObject) -> dict[str, Any]:
    """A controller owner reference to ``owner`` (``controller`` and ``blockOwnerDeletion`` true)."""
    return {
        "apiVersion": owner.api_version or owner.API_VERSION,
        "kind": owner.kind or owner.KIND,
        "name": owner.name,
        "uid": owner.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_owned_by(obj: dict[str, Any], owner: KubeObject) -> bool:
    """Whether ``obj`` has a controller reference to ``owner`` (same uid)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid") == owner.metadata.uid:
            return True
    return False
