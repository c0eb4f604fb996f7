"""A stand-in for Knative Serving's Service reconciler, for reconcile tests without a cluster.

It writes a Knative Service's status as Knative would: a new Revision ``<ksvc>-0000N`` per template
change, latest created/ready revision names, ``traffic`` resolved (``latestRevision: true`` -> the
latest *ready* revision) with tag URLs, the URL and address, and the ``Ready`` conditions. It also
plays the cluster's Gateway API implementation: every HTTPRoute is reported ``Accepted`` by its
parents, as a conformant gateway does once it serves the route. It is test scaffolding for *other
systems* (Knative, an ingress), not a double of our own code; the embedded serving engine replaces
it in end-to-end tests.
"""

from __future__ import annotations

import json
from typing import Any

from zeroserve.controller.errors import Conflict, NotFound
from zeroserve.controller.kinds import HTTP_ROUTE, KNATIVE_SERVICE
from zeroserve.controller.store import Store


class KnativeSim:
    """Knative Serving's view of every Knative Service in a store (in-memory or a real API server)."""

    def __init__(self, store: Store, domain: str = "example.com") -> None:
        self._store = store
        self._domain = domain
        self._templates: dict[tuple[str, str], list[str]] = {}
        self.failing: set[str] = set()
        """Revision names that never become ready (to test that traffic stays on the old one)."""
        self.gateway: str | None = "True"
        """What the gateway says of every HTTPRoute (``Accepted`` status), ``None`` to say nothing."""

    def revisions(self, namespace: str, name: str) -> list[str]:
        return [f"{name}-{i + 1:05d}" for i in range(len(self._templates.get((namespace, name), [])))]

    def sync(self) -> int:
        """Update the status of every Knative Service; returns how many statuses changed."""
        changed = 0
        for ksvc in self._store.list(KNATIVE_SERVICE).items:
            status = self._status(ksvc)
            if ksvc.get("status") != status:
                ksvc["status"] = status
                try:
                    self._store.update_status(KNATIVE_SERVICE, ksvc)
                except (Conflict, NotFound):
                    continue  # changed or deleted meanwhile: the next sync sees the new version
                changed += 1
        try:
            routes = self._store.list(HTTP_ROUTE).items
        except NotFound:  # no Gateway API installed: no gateway to accept routes either
            routes = []
        for route in routes if self.gateway is not None else []:
            accepted = {"type": "Accepted", "status": self.gateway, "reason": "Accepted"}
            if self.gateway == "False":
                accepted.update(reason="NotAllowedByListeners", message="no listener allows this route")
            parents = [
                {"parentRef": ref, "controllerName": "example.net/gateway-stand-in", "conditions": [accepted]}
                for ref in route["spec"].get("parentRefs") or [{"name": "gateway"}]
            ]
            if (route.get("status") or {}).get("parents") != parents:
                route["status"] = {"parents": parents}
                try:
                    self._store.update_status(HTTP_ROUTE, route)
                except (Conflict, NotFound):
                    continue
                changed += 1
        return changed

    def _status(self, ksvc: dict[str, Any]) -> dict[str, Any]:
        meta, spec = ksvc["metadata"], ksvc["spec"]
        ns, name = meta["namespace"], meta["name"]
        templates = self._templates.setdefault((ns, name), [])
        template = json.dumps(spec.get("template"), sort_keys=True)
        if not templates or templates[-1] != template:
            templates.append(template)
        revisions = self.revisions(ns, name)
        ready = [r for r in revisions if r not in self.failing]
        latest_ready = ready[-1] if ready else None
        traffic = []
        for target in spec.get("traffic") or [{"latestRevision": True, "percent": 100}]:
            resolved = dict(target)
            if target.get("latestRevision", "revisionName" not in target):
                resolved["latestRevision"] = True
                resolved["revisionName"] = latest_ready
            if target.get("tag"):
                resolved["url"] = f"http://{target['tag']}-{name}.{ns}.{self._domain}"
            traffic.append(resolved)
        ok = latest_ready is not None
        conditions = [
            {"type": t, "status": "True" if ok else "False", **({} if ok else {"reason": "RevisionFailed"})}
            for t in ("ConfigurationsReady", "Ready", "RoutesReady")
        ]
        return {
            "observedGeneration": meta["generation"],
            "conditions": conditions,
            "latestCreatedRevisionName": revisions[-1],
            **({"latestReadyRevisionName": latest_ready} if latest_ready else {}),
            "url": f"http://{name}.{ns}.{self._domain}",
            "address": {"url": f"http://{name}.{ns}.svc.cluster.local"},
            "traffic": traffic if ok else [],
        }
