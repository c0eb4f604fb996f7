"""Get-or-create-or-update of owned children, deletion of owned children, and status writes, each
with the API server's optimistic concurrency handled (409: re-read and retry).

Children are compared semantically: an update is sent only when a field the controller sets differs
from what is stored. Fields the API server or another controller added (Knative's defaulting fills in
probes, ``containerConcurrency``, ``serving.knative.dev/creator`` ...) do not count, so a reconcile
of an unchanged object writes nothing and the level-triggered loop settles.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from zeroserve.controller.errors import AlreadyExists, Conflict, ControllerError, NotFound
from zeroserve.controller.kinds import Kind
from zeroserve.controller.store import Obj, Store

__all__ = ["Applied", "NotOwnedError", "apply_owned", "delete_owned", "is_subset", "write_status"]

_ATTEMPTS = 5


class NotOwnedError(ControllerError):
    """An object of the child's name exists but another owner controls it."""


@dataclass
class Applied:
    """What :func:`apply_owned` did."""

    object: Obj
    """The object as stored."""
    action: str
    """``created``, ``updated`` or ``unchanged``."""


def is_subset(desired: Any, current: Any) -> bool:
    """Whether everything ``desired`` says is also in ``current`` (which may say more).

    Dicts: every key of ``desired`` is in ``current`` with a subset value. Lists: same length and
    element-wise subsets. Scalars: equal.
    """
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(
            k in current and is_subset(v, current[k]) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(current, list)
            and len(desired) == len(current)
            and all(is_subset(d, c) for d, c in zip(desired, current, strict=True))
        )
    return bool(desired == current)


def _controller_uid(obj: Obj) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _merged(current: Obj, desired: Obj) -> Obj:
    merged = copy.deepcopy(current)
    meta = merged.setdefault("metadata", {})
    want = desired.get("metadata") or {}
    for field in ("labels", "annotations"):
        if want.get(field):
            meta[field] = {**(meta.get(field) or {}), **want[field]}
    if "ownerReferences" in want:
        meta["ownerReferences"] = want["ownerReferences"]
    merged["spec"] = copy.deepcopy(desired.get("spec"))
    return merged


def _up_to_date(current: Obj, desired: Obj) -> bool:
    want = desired.get("metadata") or {}
    meta = current.get("metadata") or {}
    return (
        is_subset(want.get("labels") or {}, meta.get("labels") or {})
        and is_subset(want.get("annotations") or {}, meta.get("annotations") or {})
        and is_subset(want.get("ownerReferences") or [], meta.get("ownerReferences") or [])
        and is_subset(desired.get("spec"), current.get("spec"))
    )


def apply_owned(store: Store, kind: Kind, desired: Obj, owner_uid: str) -> Applied:
    """Make the stored child match ``desired``: create it, update it, or leave it.

    Args:
        store: the API.
        kind: the child's kind.
        desired: the built child, with its owner reference.
        owner_uid: the owner's uid; a same-named child controlled by someone else is not touched.

    Returns:
        The stored object and the action taken.

    Raises:
        NotOwnedError: the name is taken by an object this owner does not control.
        Conflict: the object kept changing under us for every attempt.
    """
    meta = desired["metadata"]
    for _ in range(_ATTEMPTS):
        try:
            current = store.get(kind, meta["namespace"], meta["name"])
        except NotFound:
            try:
                return Applied(store.create(kind, desired), "created")
            except AlreadyExists:
                continue  # created meanwhile: compare with it
        if _controller_uid(current) != owner_uid:
            raise NotOwnedError(
                f"{kind.kind} {meta['name']!r} already exists and is not controlled by this object; "
                "delete or rename it"
            )
        if _up_to_date(current, desired):
            return Applied(current, "unchanged")
        try:
            return Applied(store.update(kind, _merged(current, desired)), "updated")
        except Conflict:
            continue
    raise Conflict(f"{kind.kind} {meta['name']!r} kept changing; retrying later", 409)


def delete_owned(store: Store, kind: Kind, namespace: str, name: str, owner_uid: str) -> bool:
    """Delete a child that is no longer wanted, if this owner controls it.

    Returns:
        True when something was deleted.
    """
    try:
        current = store.get(kind, namespace, name)
    except NotFound:
        return False
    if _controller_uid(current) != owner_uid:
        return False
    try:
        store.delete(kind, namespace, name)
    except NotFound:
        return False
    return True


def write_status(store: Store, kind: Kind, obj: Obj, status: dict[str, Any]) -> Obj | None:
    """Write ``status`` to ``obj``'s status subresource, unless it is already stored.

    On a 409 the object is read again and, if its spec (generation) is unchanged, the status is
    written on the fresh version; if the spec changed, the write is dropped: the change queued
    another reconcile, which computes the status anew.

    Args:
        store: the API.
        kind: the object's kind.
        obj: the object as read at the start of the reconcile.
        status: the new status.

    Returns:
        The stored object, or ``None`` when nothing was written.
    """
    if obj.get("status") == status:
        return None
    current = copy.deepcopy(obj)
    generation = (obj.get("metadata") or {}).get("generation")
    for _ in range(_ATTEMPTS):
        current["status"] = status
        try:
            return store.update_status(kind, current)
        except Conflict:
            meta = obj["metadata"]
            try:
                current = store.get(kind, meta.get("namespace", ""), meta["name"])
            except NotFound:
                return None
            if (current.get("metadata") or {}).get("generation") != generation:
                return None
            if current.get("status") == status:
                return None
    raise Conflict(f"{kind.kind} {obj['metadata']['name']!r}: status kept conflicting", 409)
