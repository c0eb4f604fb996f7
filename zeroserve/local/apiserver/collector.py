"""Deletion: finalizers, propagation policies, owner-reference garbage collection, namespace termination.

Runs after every deletion, after an object is stored with new owner references, and once when the
server starts (scheduled on the event loop, so the request that deleted returns first, like
Kubernetes' background cascade), and sweeps until nothing changes. Whatever the timing, a child never
outlives its owner: one created by a controller that had not yet seen its owner's deletion, one whose
owner is being deleted in the foreground, and one left from before a restart are all collected.

- an object whose ``ownerReferences`` all point at uids that no longer exist (a deleted owner, or a
  newer owner of the same name) is deleted; dangling
  references next to a live owner are removed;
- an owner being deleted in the foreground loses its ``foregroundDeletion`` finalizer once its
  dependents are gone; an orphaning owner first strips itself from its dependents' references;
- a terminating namespace is emptied and then removed.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from zeroserve.local.apiserver import errors
from zeroserve.local.apiserver.admission import NAMESPACE_KEY
from zeroserve.local.apiserver.meta import now_timestamp
from zeroserve.local.apiserver.registry import Registry
from zeroserve.local.apiserver.resources import ResourceType

__all__ = ["GarbageCollector", "delete_object"]

_log = logging.getLogger(__name__)
_Objects = list[tuple[ResourceType, dict[str, Any]]]
_PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")


def delete_object(
    registry: Registry, rt: ResourceType, current: dict[str, Any], policy: str, *, dry_run: bool = False
) -> dict[str, Any]:
    """Delete an object, honouring finalizers and the propagation policy.

    Args:
        registry: the registry holding it.
        rt: its type.
        current: the stored object.
        policy: ``Background``, ``Foreground`` or ``Orphan``.
        dry_run: compute the result without storing it.

    Returns:
        The object's last state: deleted, or marked with ``deletionTimestamp`` while finalizers run.
    """
    meta = current["metadata"]
    if rt.key == NAMESPACE_KEY and meta["name"] in _PROTECTED_NAMESPACES:
        raise errors.forbidden(f'namespaces "{meta["name"]}" is forbidden: this namespace may not be deleted')
    finalizers = list(meta.get("finalizers") or [])
    extra = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(policy)
    if extra and extra not in finalizers and "deletionTimestamp" not in meta:
        finalizers.append(extra)
    if rt.key == NAMESPACE_KEY:
        finalizers = [*finalizers, "kubernetes"] if "kubernetes" not in finalizers else finalizers
    if not finalizers and rt.key != NAMESPACE_KEY:
        if dry_run:
            return current
        stored = registry.commit(rt, "DELETED", copy.deepcopy(current), current)
        registry.after_deletion()
        return stored
    if "deletionTimestamp" in meta:
        return current
    new = copy.deepcopy(current)
    new["metadata"]["deletionTimestamp"] = now_timestamp()
    new["metadata"]["deletionGracePeriodSeconds"] = 0
    new["metadata"]["generation"] = int(meta.get("generation", 1)) + 1
    if rt.key == NAMESPACE_KEY:
        new["status"] = {"phase": "Terminating"}
    else:
        new["metadata"]["finalizers"] = finalizers
    if dry_run:
        return new
    stored = registry.commit(rt, "MODIFIED", new, current)
    registry.after_deletion()
    return stored


class GarbageCollector:
    """Cascading deletion for one registry.

    Args:
        registry: the registry to watch; the collector registers itself in ``registry.after_delete``.
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._scheduled = False
        registry.after_delete.append(self.schedule)

    def schedule(self) -> None:
        """Run a sweep soon (on the running event loop), or now when there is none."""
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.sweep()
            return
        self._scheduled = True
        loop.call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        try:
            self.sweep()
        except Exception:
            _log.exception("garbage collection failed")

    def sweep(self) -> None:
        """Collect until nothing is left to do."""
        for _ in range(1000):
            if not self._pass():
                return

    def _pass(self) -> bool:
        registry = self._registry
        everything = list(registry.all_objects())
        uids = {obj["metadata"].get("uid") for _, obj in everything}
        dependents: dict[str, _Objects] = {}
        for rt, obj in everything:
            for ref in obj["metadata"].get("ownerReferences") or []:
                dependents.setdefault(ref.get("uid", ""), []).append((rt, obj))
        for rt, obj in everything:
            meta = obj["metadata"]
            if "deletionTimestamp" in meta:
                if rt.key == NAMESPACE_KEY and self._terminate_namespace(obj, everything):
                    return True
                finalizers = meta.get("finalizers") or []
                deps = dependents.get(meta["uid"], [])
                if "orphan" in finalizers and self._orphan(rt, obj, deps):
                    return True
                if "foregroundDeletion" in finalizers and self._foreground(rt, obj, deps):
                    return True
                continue
            refs = meta.get("ownerReferences") or []
            if not refs:
                continue
            alive = [ref for ref in refs if ref.get("uid") in uids]
            if not alive:
                delete_object(registry, rt, obj, "Background")
                return True
            if len(alive) < len(refs):
                self._set_owners(rt, obj, alive)
                return True
        return False

    def _set_owners(self, rt: ResourceType, obj: dict[str, Any], refs: list[dict[str, Any]]) -> None:
        new = copy.deepcopy(obj)
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences", None)
        self._registry.commit(rt, "MODIFIED", new, obj)

    def _drop_finalizer(self, rt: ResourceType, obj: dict[str, Any], finalizer: str) -> None:
        new = copy.deepcopy(obj)
        remaining = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]
        if remaining:
            new["metadata"]["finalizers"] = remaining
            self._registry.commit(rt, "MODIFIED", new, obj)
        else:
            new["metadata"].pop("finalizers", None)
            self._registry.commit(rt, "DELETED", new, obj)

    def _orphan(self, rt: ResourceType, owner: dict[str, Any], deps: _Objects) -> bool:
        uid = owner["metadata"]["uid"]
        for dep_rt, dep in deps:
            dep_meta = dep["metadata"]
            current = self._registry.lookup(dep_rt, dep_meta.get("namespace", ""), dep_meta["name"])
            if current is not None:
                refs = [r for r in current["metadata"]["ownerReferences"] if r.get("uid") != uid]
                self._set_owners(dep_rt, current, refs)
        self._drop_finalizer(rt, owner, "orphan")
        return True

    def _foreground(self, rt: ResourceType, owner: dict[str, Any], deps: _Objects) -> bool:
        pending = [(d_rt, d) for d_rt, d in deps if "deletionTimestamp" not in d["metadata"]]
        for dep_rt, dep in pending:
            delete_object(self._registry, dep_rt, dep, "Foreground")
        if pending:
            return True
        if deps:
            return False
        self._drop_finalizer(rt, owner, "foregroundDeletion")
        return True

    def _terminate_namespace(self, namespace: dict[str, Any], everything: _Objects) -> bool:
        name = namespace["metadata"]["name"]
        contents = [
            (rt, o) for rt, o in everything if rt.namespaced and o["metadata"].get("namespace") == name
        ]
        pending = [(rt, obj) for rt, obj in contents if "deletionTimestamp" not in obj["metadata"]]
        for rt, obj in pending:
            delete_object(self._registry, rt, obj, "Background")
        if pending:
            return True
        if contents:
            return False
        rt = next(t for t in self._registry.types() if t.key == NAMESPACE_KEY)
        gone = copy.deepcopy(namespace)
        gone["spec"] = {"finalizers": []}
        self._registry.commit(rt, "DELETED", gone, namespace)
        return True
