"""Server-side apply, for one field manager at a time.

The applied configuration is merged onto the live object, and fields the same manager applied before
but no longer lists are removed: the manager's set is kept in ``metadata.managedFields`` (``FieldsV1``,
with lists treated as atomic). Ownership conflicts between different managers are not detected, so
``force`` has no effect; for the usual one-manager ``kubectl apply --server-side`` flow the result is
what Kubernetes produces.
"""

from __future__ import annotations

import copy
from typing import Any

from zeroserve.local.apiserver.meta import now_timestamp
from zeroserve.local.apiserver.patches import merge_patch

__all__ = ["applied_fields", "server_side_apply"]


def _fields(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {f"f:{key}": _fields(item) for key, item in value.items()}
    return {}


def applied_fields(applied: dict[str, Any]) -> dict[str, Any]:
    """The ``FieldsV1`` set an applied configuration claims.

    Args:
        applied: the configuration sent with ``application/apply-patch+yaml``.

    Returns:
        ``{"f:spec": {"f:predictor": {...}}, ...}``; of ``metadata`` only labels and annotations count.
    """
    body = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind", "metadata")}
    fields = _fields(body)
    metadata = applied.get("metadata") or {}
    owned = {k: metadata[k] for k in ("labels", "annotations") if isinstance(metadata.get(k), dict)}
    if owned:
        fields["f:metadata"] = _fields(owned)
    return fields


def _release(live: dict[str, Any], before: dict[str, Any], now: dict[str, Any]) -> None:
    """Remove from ``live`` the fields in ``before`` that are not in ``now``.

    A released leaf is removed; a released map loses the keys that were claimed in it and disappears
    only when nothing else is left in it (other managers' keys stay).
    """
    for key, sub in before.items():
        if not key.startswith("f:"):
            continue
        name = key[2:]
        child = live.get(name)
        if sub and isinstance(child, dict):
            _release(child, sub, now.get(key) or {})
            if not child and key not in now:
                live.pop(name, None)
        elif key not in now:
            live.pop(name, None)


def server_side_apply(
    live: dict[str, Any] | None, applied: dict[str, Any], manager: str, api_version: str
) -> dict[str, Any]:
    """Apply a configuration as ``manager``.

    Args:
        live: the current object, or ``None`` when the apply creates it.
        applied: the applied configuration.
        manager: the ``fieldManager`` (``kubectl`` for ``kubectl apply --server-side``).
        api_version: the version the configuration is in (recorded in managedFields).

    Returns:
        The new object (``live`` is not modified), with this manager's managedFields entry updated.
    """
    result = copy.deepcopy(live) if live is not None else {}
    entries = [dict(e) for e in (result.get("metadata") or {}).get("managedFields") or []]
    mine = next((e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"), None)
    claimed = applied_fields(applied)
    if mine is not None:
        _release(result, mine.get("fieldsV1") or {}, claimed)
    result = merge_patch(result, applied)
    entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now_timestamp(),
        "fieldsType": "FieldsV1",
        "fieldsV1": claimed,
    }
    entries = [e for e in entries if e is not mine] + [entry]
    result.setdefault("metadata", {})["managedFields"] = entries
    merged: dict[str, Any] = result
    return merged
