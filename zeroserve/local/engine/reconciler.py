"""Keeps Knative Serving objects and the running engine in step, through the API server.

One pass (every ``interval`` seconds, and soon after any revision's status changes):

1. list Services, Configurations, Revisions, Routes and HTTPRoutes with the ``kubernetes`` client;
2. get-or-create each Service's Configuration and Route (same name, owner-referenced), updating
   their spec when the Service's changed;
3. stamp a Revision ``<configuration>-0000N`` for each Configuration generation not yet stamped;
4. mark statuses with the apis lifecycle helpers, on the typed objects (``zeroserve.apis``): Revisions
   (from the engine), Configurations, Routes (traffic resolved), Services (propagated), HTTPRoutes
   (accepted or not); a status is written only when it changed other than in its transition times
   (the condition manager stamps those, with the reconciler's clock);
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
from typing import Any, TypeVar

from zeroserve.apis.gateway.v1 import HTTPRoute
from zeroserve.apis.gateway.v1.lifecycle import DEFAULT_PARENT, set_parent_conditions
from zeroserve.apis.knative.serving.v1 import Configuration, Revision, Route, Service
from zeroserve.apis.meta import KubeObject
from zeroserve.local.engine.auth import auth_enabled
from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.resources import (
    GROUP,
    LABEL_CONFIGURATION,
    build_configuration,
    build_revision,
    build_route,
    mark_configuration_status,
    mark_route_status,
    mark_service_status,
    resolve_traffic,
    revision_name,
)
from zeroserve.local.engine.revision import RevisionSpec
from zeroserve.local.engine.routing import HTTPRouteRule, RouteEntry, http_route_rules, is_cluster_local
from zeroserve.local.engine.status import RevisionObservation, mark_revision_status, mark_revision_unobserved

__all__ = ["ServingReconciler"]

_LOG = logging.getLogger(__name__)

VERSION = "v1"
GATEWAY_GROUP = "gateway.networking.k8s.io"
CONTROLLER_NAME = "zeroserve.dev/local-gateway"

Key = tuple[str, str]
_Object = TypeVar("_Object", bound=KubeObject)
_Child = TypeVar("_Child", Configuration, Route)


@dataclass
class _Plan:
    run: list[RevisionSpec] = field(default_factory=list)
    exists: set[Key] = field(default_factory=set)
    routes: list[RouteEntry] = field(default_factory=list)
    http_routes: dict[str, list[HTTPRouteRule]] = field(default_factory=dict)


def _key(obj: KubeObject) -> Key:
    return (obj.namespace or "default", obj.name)


def _owned_by(obj: KubeObject, owner: KubeObject) -> bool:
    uid = owner.metadata.uid
    return not uid or any(r.uid == uid for r in obj.metadata.owner_references or [])


def _without_times(status: Mapping[str, Any]) -> dict[str, Any]:
    """A status with the conditions' transition times left out (what "changed" is judged on)."""

    def strip(conditions: Any) -> Any:
        return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conditions or []]

    out = dict(status)
    out["conditions"] = strip(status.get("conditions"))
    if "parents" in status:
        out["parents"] = [
            {**p, "conditions": strip(p.get("conditions"))} for p in status.get("parents") or []
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
        snapshot = {key: rev.observe() for key, rev in self.engine.revisions.items()}
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

    def _list(self, kind: type[_Object], plural: str, group: str = GROUP) -> dict[Key, _Object]:
        try:
            items: list[dict[str, Any]] = self.api.list_cluster_custom_object(group, VERSION, plural).get(
                "items", []
            )
        except Exception as err:
            if getattr(err, "status", None) == 404:
                return {}
            raise
        objects: dict[Key, _Object] = {}
        for item in items:
            try:
                obj = kind.from_dict(item)
            except ValueError as err:
                meta = item.get("metadata") or {}
                _LOG.warning("skipping %s %s/%s: %s", plural, meta.get("namespace"), meta.get("name"), err)
                continue
            objects[_key(obj)] = obj
        return objects

    def _pass(self, snapshot: Mapping[Key, RevisionObservation]) -> _Plan:
        now = self._now
        services = self._list(Service, "services")
        configs = self._list(Configuration, "configurations")
        revisions = self._list(Revision, "revisions")
        routes = self._list(Route, "routes")
        http_routes = self._list(HTTPRoute, "httproutes", GATEWAY_GROUP)

        for key, svc in services.items():
            configs[key] = self._ensure_child(
                svc, "configurations", build_configuration(svc), configs.get(key)
            )
            routes[key] = self._ensure_child(svc, "routes", build_route(svc), routes.get(key))

        for key, cfg in configs.items():
            name = revision_name(cfg)
            if (key[0], name) not in revisions:
                created = self._create("revisions", build_revision(cfg))
                if created is not None:
                    revisions[(key[0], name)] = created
        by_config: dict[Key, list[Revision]] = {}
        for key, rev in revisions.items():
            owner = rev.labels.get(LABEL_CONFIGURATION)
            if owner:
                by_config.setdefault((key[0], owner), []).append(rev)

        for key, rev in revisions.items():
            before = self._status_of(rev)
            seen = snapshot.get(key)
            if seen is None:
                mark_revision_unobserved(rev, now)
            else:
                mark_revision_status(rev, seen, now)
            assert rev.status is not None
            rev.status.observed_generation = rev.metadata.generation or 1
            self._write_status("revisions", rev, before)

        for key, cfg in configs.items():
            before = self._status_of(cfg)
            mark_configuration_status(cfg, by_config.get(key, []), now)
            self._write_status("configurations", cfg, before)

        plan = _Plan()
        routed: set[Key] = set()
        for key, route in routes.items():
            ns = key[0]
            resolved = resolve_traffic(
                route,
                {k[1]: v for k, v in configs.items() if k[0] == ns},
                {k[1]: v for k, v in revisions.items() if k[0] == ns},
                self.domain,
            )
            ksvc = services.get(key)
            private = is_cluster_local(
                route.metadata.labels, *((ksvc.metadata.labels, ksvc.metadata.annotations) if ksvc else ())
            )
            before = self._status_of(route)
            mark_route_status(route, resolved, self.domain, now, cluster_local=private)
            self._write_status("routes", route, before)
            auth = auth_enabled(route.metadata.annotations) or (
                ksvc is not None and auth_enabled(ksvc.metadata.annotations)
            )
            targets = tuple(resolved.targets)
            plan.routes.append(
                RouteEntry(ns, key[1], targets, dict(resolved.tags), auth, cluster_local=private)
            )
            routed.update((ns, name) for name, _ in resolved.targets)
            routed.update((ns, name) for name in resolved.tags.values())

        for key, svc in services.items():
            before = self._status_of(svc)
            mark_service_status(svc, configs.get(key), routes.get(key), now)
            self._write_status("services", svc, before)

        installed = self.engine.gateway.table.http_route_source
        for hr in http_routes.values():
            hr_rules = http_route_rules(hr)
            plan.http_routes.update(hr_rules)
            programmed = all(installed.get(host) == rules for host, rules in hr_rules.items())
            self._http_route_status(hr, services, programmed)

        plan.exists = set(revisions)
        latest = {(k[0], str(c.status.latest_created_revision_name)) for k, c in configs.items() if c.status}
        settings = self.engine.settings
        for key, rev in revisions.items():
            if key in routed or key in latest:
                try:
                    plan.run.append(RevisionSpec.from_object(rev, settings))
                except Exception as err:
                    _LOG.warning("revision %s/%s cannot run: %s", key[0], key[1], err)
        return plan

    def _http_route_status(self, hr: HTTPRoute, services: Mapping[Key, Service], programmed: bool) -> None:
        ns = _key(hr)[0]
        missing = sorted(
            {
                ref.name
                for rule in hr.spec.rules or []
                for ref in rule.backend_refs or []
                if (ref.namespace or ns, ref.name) not in services
            }
        )
        if missing:
            message = f"Knative Services not found: {', '.join(missing)}"
        else:
            message = "" if programmed else "the local gateway is installing the route"
        before = self._status_of(hr)
        # Accepted only once the gateway serves these rules, so "Accepted" means requests route
        for parent in hr.spec.parent_refs or [DEFAULT_PARENT]:
            set_parent_conditions(
                hr,
                CONTROLLER_NAME,
                accepted=True if programmed else None,
                resolved_refs=not missing,
                message=message,
                parent=parent,
                now=self._now,
            )
        self._write_status("httproutes", hr, before, group=GATEWAY_GROUP)

    def _ensure_child(self, owner: Service, plural: str, want: _Child, current: _Child | None) -> _Child:
        if current is None:
            return self._create(plural, want) or want
        if not _owned_by(current, owner):
            return current
        spec = want.spec.to_dict()
        if current.spec.to_dict() == spec:
            return current
        body = {**current.to_dict(), "spec": spec}
        ns, name = _key(current)
        try:
            updated = self.api.replace_namespaced_custom_object(GROUP, VERSION, ns, plural, name, body)
            return type(current).from_dict(updated)
        except Exception as err:
            _LOG.warning("cannot update %s %s/%s: %s", plural, ns, name, err)
            return current

    def _create(self, plural: str, body: _Object) -> _Object | None:
        ns, name = _key(body)
        try:
            created = self.api.create_namespaced_custom_object(GROUP, VERSION, ns, plural, body.to_dict())
            return type(body).from_dict(created)
        except Exception as err:
            if getattr(err, "status", None) == 409:
                return None
            _LOG.warning("cannot create %s %s/%s: %s", plural, ns, name, err)
            return None

    @staticmethod
    def _status_of(obj: KubeObject) -> dict[str, Any]:
        status = getattr(obj, "status", None)
        return status.to_dict() if status is not None else {}

    def _write_status(
        self, plural: str, obj: KubeObject, before: dict[str, Any], *, group: str = GROUP
    ) -> None:
        """Write the object's marked status when it changed (other than in transition times only)."""
        status = getattr(obj, "status", None)
        after = status.to_dict() if status is not None else {}
        if _without_times(before) == _without_times(after):
            return
        ns, name = _key(obj)
        try:
            self.api.patch_namespaced_custom_object_status(
                group, VERSION, ns, plural, name, {"status": after}
            )
        except Exception as err:
            if getattr(err, "status", None) != 404:
                _LOG.warning("cannot write status of %s %s/%s: %s", plural, ns, name, err)
