"""Keeps Knative Serving objects and the running engine in step, through the API server.

One pass (every ``interval`` seconds, and soon after any revision's status changes):

1. list Services, Configurations, Revisions, Routes and HTTPRoutes with the ``kubernetes`` client;
2. get-or-create each Service's Configuration and Route (same name, owner-referenced), updating
   their spec when the Service's changed;
3. stamp a Revision ``<configuration>-0000N`` for each Configuration generation not yet stamped;
4. write statuses: Revisions (from the engine), Configurations, Routes (traffic resolved),
   Services (propagated), HTTPRoutes (accepted or not);
5. hand the engine the revisions to run (those that take traffic or carry a tag, and each
   Configuration's latest) and then the gateway its routes; a revision no longer routed scales to
   zero like an idle one (``min-scale`` no longer holds it, as in Knative) and is then forgotten.

Listing everything each pass keeps it simple and self-healing: a missed change is picked up by the
next pass. The sync ``kubernetes`` client runs in a worker thread; the engine is touched only on
the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.resources import (
    GROUP,
    LABEL_CONFIGURATION,
    build_configuration,
    build_revision,
    build_route,
    configuration_status,
    resolve_traffic,
    revision_name,
    route_status,
    service_status,
)
from zeroserve.local.engine.revision import RevisionRuntime, RevisionSpec
from zeroserve.local.engine.routing import HTTPRouteRule, RouteEntry, http_route_rules

__all__ = ["ServingReconciler", "revision_status"]

_LOG = logging.getLogger(__name__)

VERSION = "v1"
GATEWAY_GROUP = "gateway.networking.k8s.io"
CONTROLLER_NAME = "zeroserve.dev/local-gateway"

Key = tuple[str, str]


def revision_status(rev: RevisionRuntime) -> dict[str, Any]:
    """A running revision's status as the Revision object reports it.

    Args:
        rev: the runtime.

    Returns:
        ``conditions``, ``actualReplicas``, ``desiredReplicas`` and ``serviceName``.
    """
    conditions = []
    for cond in rev.conditions():
        item = {"type": cond.type, "status": cond.status}
        if cond.reason:
            item["reason"] = cond.reason
        if cond.message:
            item["message"] = cond.message
        conditions.append(item)
    return {
        "conditions": conditions,
        "actualReplicas": rev.ready_count,
        "desiredReplicas": rev.desired,
        "serviceName": rev.spec.name,
    }


@dataclass
class _Plan:
    run: list[RevisionSpec] = field(default_factory=list)
    exists: set[Key] = field(default_factory=set)
    routes: list[RouteEntry] = field(default_factory=list)
    http_routes: dict[str, list[HTTPRouteRule]] = field(default_factory=dict)


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj["metadata"]
    return (str(meta.get("namespace") or "default"), str(meta["name"]))


def _owned_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    uid = owner["metadata"].get("uid")
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return not uid or any(r.get("uid") == uid for r in refs)


def _strip_times(status: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(status)
    out["conditions"] = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or []
    ]
    return out


class ServingReconciler:
    """Reconciles Knative Serving objects against the engine."""

    def __init__(
        self,
        api: Any,
        engine: Engine,
        *,
        domain: str = "example.com",
        interval: float = 0.5,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Create the reconciler.

        Args:
            api: a ``kubernetes.client.CustomObjectsApi`` for the API server.
            engine: the engine to drive.
            domain: the external domain.
            interval: seconds between passes.
            now: wall clock for condition timestamps.
        """
        self.api = api
        self.engine = engine
        self.domain = domain
        self.interval = interval
        self._now = now
        self._wake = asyncio.Event()
        self.passes = 0
        self.before_pass: list[Callable[[], None]] = []
        """Called on the event loop at the start of every pass (the component syncs upstreams here)."""

    def wake(self) -> None:
        """Ask for a pass soon (a revision's status changed)."""
        self._wake.set()

    async def run(self) -> None:
        """Reconcile until cancelled; a failed pass is logged and retried."""
        while True:
            self._wake.clear()
            try:
                await self.sync_once()
            except Exception as err:
                _LOG.warning("serving reconcile pass failed: %s", err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            await asyncio.sleep(0.02)  # coalesce bursts of status changes

    async def sync_once(self) -> None:
        """One pass (see the module docstring)."""
        for hook in self.before_pass:
            hook()
        snapshot = {key: revision_status(rev) for key, rev in self.engine.revisions.items()}
        plan = await asyncio.to_thread(self._pass, snapshot)
        wanted = {(s.namespace, s.name) for s in plan.run}
        for spec in plan.run:
            self.engine.ensure_revision(spec).routable = True
        # routes change only after every revision they name runs
        installed = self.engine.gateway.table.http_route_source
        self.engine.set_routes(plan.routes, plan.http_routes)
        if installed != plan.http_routes:
            self.wake()  # report the newly installed HTTPRoutes as Accepted without waiting a period
        for key, rev in list(self.engine.revisions.items()):
            if key not in plan.exists:
                await self.engine.remove_revision(*key)
            elif key not in wanted:
                # no longer routed: scale to zero like any idle revision (min-scale no longer
                # applies), then forget it
                rev.routable = False
                if rev.idle:
                    await self.engine.remove_revision(*key)
        self.passes += 1

    # ------------------------------------------------------------------ the pass (worker thread)

    def _list(self, plural: str, group: str = GROUP) -> list[dict[str, Any]]:
        try:
            items: list[dict[str, Any]] = self.api.list_cluster_custom_object(group, VERSION, plural).get(
                "items", []
            )
        except Exception as err:
            if getattr(err, "status", None) == 404:
                return []
            raise
        return items

    def _pass(self, snapshot: Mapping[Key, dict[str, Any]]) -> _Plan:
        services = {_key(o): o for o in self._list("services")}
        configs = {_key(o): o for o in self._list("configurations")}
        revisions = {_key(o): o for o in self._list("revisions")}
        routes = {_key(o): o for o in self._list("routes")}
        http_routes = self._list("httproutes", GATEWAY_GROUP)

        for key, svc in services.items():
            configs[key] = self._ensure_child(
                svc, "configurations", build_configuration(svc), configs.get(key)
            )
            routes[key] = self._ensure_child(svc, "routes", build_route(svc), routes.get(key))

        by_config: dict[Key, list[dict[str, Any]]] = {}
        for key, cfg in configs.items():
            name = revision_name(cfg)
            if (key[0], name) not in revisions:
                created = self._create("revisions", build_revision(cfg))
                if created is not None:
                    revisions[(key[0], name)] = created
        for key, rev in revisions.items():
            owner = ((rev.get("metadata") or {}).get("labels") or {}).get(LABEL_CONFIGURATION)
            if owner:
                by_config.setdefault((key[0], owner), []).append(rev)

        for key, rev in revisions.items():
            status = dict(snapshot.get(key) or {})
            if not status:
                previous = rev.get("status") or {}
                if previous.get("conditions"):
                    status = {**previous, "actualReplicas": 0}
                else:
                    status = {
                        "conditions": [
                            {"type": "Ready", "status": "Unknown", "reason": "Deploying"},
                            {"type": "ResourcesAvailable", "status": "Unknown", "reason": "Deploying"},
                            {"type": "ContainerHealthy", "status": "Unknown", "reason": "Deploying"},
                            {"type": "Active", "status": "Unknown", "reason": "Deploying"},
                        ],
                        "actualReplicas": 0,
                    }
            rev["status"] = self._write_status("revisions", rev, status)

        config_statuses: dict[Key, dict[str, Any]] = {}
        for key, cfg in configs.items():
            st = configuration_status(cfg, by_config.get(key, []))
            cfg["status"] = config_statuses[key] = self._write_status("configurations", cfg, st)

        plan = _Plan()
        route_statuses: dict[Key, dict[str, Any]] = {}
        routed: set[Key] = set()
        for key, route in routes.items():
            ns = key[0]
            resolved = resolve_traffic(
                route,
                {k[1]: v for k, v in configs.items() if k[0] == ns},
                {k[1]: v for k, v in revisions.items() if k[0] == ns},
                self.domain,
            )
            route_statuses[key] = self._write_status(
                "routes", route, route_status(route, resolved, self.domain)
            )
            plan.routes.append(RouteEntry(ns, key[1], tuple(resolved.targets), dict(resolved.tags)))
            routed.update((ns, name) for name, _ in resolved.targets)
            routed.update((ns, name) for name in resolved.tags.values())

        for key, svc in services.items():
            st = service_status(
                svc,
                configs.get(key),
                routes.get(key),
                config_statuses.get(key, {}),
                route_statuses.get(key, {}),
            )
            self._write_status("services", svc, st)

        installed = self.engine.gateway.table.http_route_source
        for hr in http_routes:
            hr_rules = http_route_rules(hr)
            plan.http_routes.update(hr_rules)
            programmed = all(installed.get(host) == rules for host, rules in hr_rules.items())
            self._http_route_status(hr, services, programmed)

        plan.exists = set(revisions)
        latest = {
            (k[0], str(c.get("status", {}).get("latestCreatedRevisionName"))) for k, c in configs.items()
        }
        settings = self.engine.settings
        for key, rev in revisions.items():
            if key in routed or key in latest:
                try:
                    plan.run.append(RevisionSpec.from_object(rev, settings))
                except Exception as err:
                    _LOG.warning("revision %s/%s cannot run: %s", key[0], key[1], err)
        return plan

    def _http_route_status(self, hr: dict[str, Any], services: Mapping[Key, Any], programmed: bool) -> None:
        ns = _key(hr)[0]
        missing = []
        for rule in (hr.get("spec") or {}).get("rules") or []:
            for ref in rule.get("backendRefs") or []:
                if (ref.get("namespace") or ns, ref.get("name")) not in services:
                    missing.append(str(ref.get("name")))
        resolved = {"type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs"}
        if missing:
            resolved = {
                "type": "ResolvedRefs",
                "status": "False",
                "reason": "BackendNotFound",
                "message": f"Knative Services not found: {', '.join(sorted(set(missing)))}",
            }
        # Accepted only once the gateway serves these rules, so "Accepted" means requests route
        accepted = {"type": "Accepted", "status": "True", "reason": "Accepted"}
        if not programmed:
            accepted = {
                "type": "Accepted",
                "status": "Unknown",
                "reason": "Pending",
                "message": "the local gateway is installing the route",
            }
        parents = [
            {
                "parentRef": ref,
                "controllerName": CONTROLLER_NAME,
                "conditions": [accepted, resolved],
            }
            for ref in (hr.get("spec") or {}).get("parentRefs") or [{"name": "local-gateway"}]
        ]
        self._write_status("httproutes", hr, {"parents": parents}, group=GATEWAY_GROUP, generation=False)

    def _ensure_child(
        self, owner: dict[str, Any], plural: str, want: dict[str, Any], current: dict[str, Any] | None
    ) -> dict[str, Any]:
        if current is None:
            return self._create(plural, want) or want
        if not _owned_by(current, owner):
            return current
        if current.get("spec") == want["spec"]:
            return current
        body = {**current, "spec": want["spec"]}
        ns, name = _key(current)
        try:
            updated: dict[str, Any] = self.api.replace_namespaced_custom_object(
                GROUP, VERSION, ns, plural, name, body
            )
            return updated
        except Exception as err:
            _LOG.warning("cannot update %s %s/%s: %s", plural, ns, name, err)
            return current

    def _create(self, plural: str, body: dict[str, Any]) -> dict[str, Any] | None:
        ns = body["metadata"]["namespace"]
        try:
            created: dict[str, Any] = self.api.create_namespaced_custom_object(
                GROUP, VERSION, ns, plural, body
            )
            return created
        except Exception as err:
            if getattr(err, "status", None) == 409:
                return None
            _LOG.warning("cannot create %s %s/%s: %s", plural, ns, body["metadata"]["name"], err)
            return None

    def _write_status(
        self,
        plural: str,
        obj: dict[str, Any],
        status: dict[str, Any],
        *,
        group: str = GROUP,
        generation: bool = True,
    ) -> dict[str, Any]:
        meta = obj["metadata"]
        if generation:
            status.setdefault("observedGeneration", meta.get("generation") or 1)
        current = obj.get("status") or {}
        if _strip_times(current) == _strip_times(status):
            return current
        stamp = self._now().strftime("%Y-%m-%dT%H:%M:%SZ")
        old = {c.get("type"): c for c in current.get("conditions") or []}
        for cond in status.get("conditions") or []:
            before = old.get(cond["type"])
            same = before is not None and before.get("status") == cond["status"]
            cond["lastTransitionTime"] = before.get("lastTransitionTime", stamp) if before and same else stamp
        ns, name = _key(obj)
        try:
            self.api.patch_namespaced_custom_object_status(
                group, VERSION, ns, plural, name, {"status": status}
            )
        except Exception as err:
            if getattr(err, "status", None) != 404:
                _LOG.warning("cannot write status of %s %s/%s: %s", plural, ns, name, err)
        return status
