"""The InferenceService reconciler: read, default, validate, get-or-create each child, propagate status.

One reconcile is level-triggered and idempotent: it computes every child from the InferenceService
alone (plus its status' rolled-out revisions), applies what differs, and writes the status it
observes. Children: the Knative Services ``<isvc>-<component>`` (:mod:`..resources.knative_service`)
and, once every component is ready, the ``HTTPRoute`` ``<isvc>`` (:mod:`..resources.http_route`).
All are owned by the InferenceService, so deleting it deletes them (garbage collection).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from zeroserve.apis.field_errors import from_pydantic
from zeroserve.apis.knative.serving.v1 import ServiceStatus
from zeroserve.apis.serving.v1alpha1.runtime_selection import RuntimeCandidate, SelectionError
from zeroserve.apis.serving.v1beta1 import InferenceService, InferenceServiceStatus
from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.apis.serving.v1beta1.lifecycle import (
    IGNORED_FIELDS,
    INGRESS_READY,
    READY,
    component_condition,
    manage,
    mark_ignored_fields,
    mark_ingress_not_ready,
    mark_ingress_ready,
    propagate_component_status,
)
from zeroserve.apis.serving.v1beta1.validation import ignored_fields, validate_inference_service
from zeroserve.controller.config.runtime_source import runtime_candidates, select_model_runtime
from zeroserve.controller.errors import BuildError, NotFound
from zeroserve.controller.events import NORMAL, WARNING
from zeroserve.controller.kinds import HTTP_ROUTE, INFERENCE_SERVICE, KNATIVE_SERVICE, Kind
from zeroserve.controller.names import COMPONENTS, cluster_local_host, component_service_name, external_host
from zeroserve.controller.reconcilers.apply import NotOwnedError, apply_owned, delete_owned, write_status
from zeroserve.controller.reconcilers.base import ReconcilerBase
from zeroserve.controller.reconcilers.invalid import INVALID_SPEC, invalid_status
from zeroserve.controller.reconcilers.result import Result
from zeroserve.controller.reconcilers.rollout import track_rollout
from zeroserve.controller.reconcilers.transitions import keep_transition_times, transitions
from zeroserve.controller.resources.http_route import build_http_route, is_cluster_local
from zeroserve.controller.resources.knative_service import build_component_service
from zeroserve.controller.resources.storage_credentials import add_storage_env, storage_access
from zeroserve.controller.store import Obj

__all__ = ["InferenceServiceReconciler"]

log = logging.getLogger(__name__)


class InferenceServiceReconciler(ReconcilerBase):
    """Reconciles one InferenceService at a time.

    Args:
        store: the API.
        config: the controller configuration.
        recorder: where user-visible Events go.
        clock: current UTC time, for condition transition times.
    """

    def reconcile(self, namespace: str, name: str) -> Result:
        """Bring the children and status of ``namespace/name`` in line with its spec.

        Args:
            namespace: the InferenceService's namespace.
            name: its name.

        Returns:
            When to look again without a change (``None``: only on the next change).

        Raises:
            StoreError: the API failed; the loop retries with backoff.
        """
        try:
            raw = self._store.get(INFERENCE_SERVICE, namespace, name)
        except NotFound:
            return Result()  # deleted: owner references take the children with it
        if (raw.get("metadata") or {}).get("deletionTimestamp"):
            return Result()
        try:
            isvc = InferenceService.from_dict(raw)
        except ValidationError as exc:
            return self._invalid(raw, [str(e) for e in from_pydantic(exc)])
        isvc = default_inference_service(isvc)
        errors = validate_inference_service(isvc)
        if errors:
            return self._invalid(raw, [str(e) for e in errors])
        self._reconcile_valid(raw, isvc)
        return Result()

    # -- the valid path ------------------------------------------------------------------------------
    def _reconcile_valid(self, raw: Obj, isvc: InferenceService) -> None:
        now = self._clock
        manager = manage(isvc, now)
        ignored = ignored_fields(isvc)
        mark_ignored_fields(isvc, ignored, now)
        ignored_condition = manager.get(IGNORED_FIELDS)
        if ignored and ignored_condition is not None:
            message = ignored_condition.message or ""
            if transitions(raw, IGNORED_FIELDS, "True", ignored_condition.reason, message):
                self._recorder.event(raw, WARNING, "IgnoredFields", message)
        was_ready = _condition_status(raw, READY) == "True"
        ready_components: list[str] = []
        present = isvc.spec.components()
        for component in COMPONENTS:
            if component in present:
                if self._reconcile_component(raw, isvc, component):
                    ready_components.append(component)
            else:
                self._remove_component(isvc, component)
        if all(c in ready_components for c in present):
            self._reconcile_ingress(raw, isvc)
        else:
            waiting = next(c for c in COMPONENTS if c in present and c not in ready_components)
            mark_ingress_not_ready(
                isvc,
                f"{waiting.capitalize()}IngressNotCreated",
                f"{waiting.capitalize()} ingress not created",
                now,
            )
        assert isvc.status is not None
        isvc.status.observed_generation = (raw.get("metadata") or {}).get("generation")
        # KServe's controller words these two Events so, on the transitions only
        if manager.is_happy() and not was_ready:
            message = f"InferenceService [{isvc.name}] is Ready"
            self._recorder.event(raw, NORMAL, "InferenceServiceReady", message)
        elif was_ready and not manager.is_happy():
            conditions = isvc.status.conditions or []
            failing = ", ".join(c.type for c in conditions if not c.is_true and c.type != READY)
            self._recorder.event(
                raw,
                WARNING,
                "InferenceServiceNotReady",
                f"InferenceService [{isvc.name}] is no longer Ready because of: {failing or READY}",
            )
        self._write(raw, isvc.status)

    def _reconcile_component(self, raw: Obj, isvc: InferenceService, component: str) -> bool:
        now = self._clock
        condition = component_condition(component)
        try:
            access = storage_access(isvc, self._lookup) if component == "predictor" else None
            built = isvc
            if access is not None and access.uri and isvc.spec.predictor.model is not None:
                built = isvc.model_copy(deep=True)  # the storage spec names the model's storageUri
                assert built.spec.predictor.model is not None
                built.spec.predictor.model.storage_uri = access.uri
            runtime = self._select_runtime(isvc) if component == "predictor" else None
            desired = build_component_service(built, component, self._config, runtime)
            if access is not None:
                add_storage_env(desired, access.env)
        except BuildError as exc:
            manage(isvc, now).mark_false(condition, exc.reason, exc.message)
            if transitions(raw, condition, "False", exc.reason, exc.message):
                self._recorder.event(raw, WARNING, exc.reason, exc.message)
            return False
        try:
            applied = apply_owned(self._store, KNATIVE_SERVICE, desired, isvc.metadata.uid or "")
        except NotOwnedError as exc:
            manage(isvc, now).mark_false(condition, "ServiceNotOwned", str(exc))
            if transitions(raw, condition, "False", "ServiceNotOwned", str(exc)):
                self._recorder.event(raw, WARNING, "ServiceNotOwned", str(exc))
            return False
        ksvc_name = desired["metadata"]["name"]
        if applied.action != "unchanged":
            verb = applied.action.capitalize()
            self._recorder.event(raw, NORMAL, verb, f"{verb} Knative Service {ksvc_name}")
        ksvc_status = _service_status(applied.object)
        assert isvc.status is not None
        before = (isvc.status.components or {}).get(component)
        old_latest = before.latest_rolledout_revision if before else None
        old_previous = before.previous_rolledout_revision if before else None
        entry = propagate_component_status(isvc, component, ksvc_status, now)
        if ksvc_status is not None:
            latest, previous = track_rollout(old_latest, old_previous, ksvc_status)
            entry.latest_rolledout_revision, entry.previous_rolledout_revision = latest, previous
            if latest and latest != old_latest:
                self._recorder.event(raw, NORMAL, "RolledOut", f"{component} revision {latest} rolled out")
        ready = manage(isvc, now).get(condition)
        return ready is not None and ready.is_true

    def _select_runtime(self, isvc: InferenceService) -> RuntimeCandidate | None:
        """The predictor model's runtime (KServe's selection); records it in the status."""
        model = isvc.spec.predictor.model
        if model is None:
            return None
        namespace = isvc.namespace or "default"
        namespaced, cluster = runtime_candidates(self._store, namespace, self._config.version)
        try:
            chosen = select_model_runtime(model, namespaced, cluster)
        except SelectionError as exc:
            raise BuildError(exc.reason, exc.message) from exc
        assert isvc.status is not None
        namespaced_choice = chosen.kind == "ServingRuntime"
        isvc.status.serving_runtime_name = chosen.name if namespaced_choice else None
        isvc.status.cluster_serving_runtime_name = None if namespaced_choice else chosen.name
        return chosen

    def _lookup(self, kind: Kind, namespace: str, name: str) -> Obj | None:
        try:
            return self._store.get(kind, namespace, name)
        except NotFound:
            return None

    def _remove_component(self, isvc: InferenceService, component: str) -> None:
        ns = isvc.namespace or "default"
        delete_owned(
            self._store,
            KNATIVE_SERVICE,
            ns,
            component_service_name(isvc.name, component),
            isvc.metadata.uid or "",
        )
        status = isvc.status
        if status is None:
            return
        if status.components and component in status.components:
            status.components = {k: v for k, v in status.components.items() if k != component} or None
        drop = {component_condition(component, s) for s in ("Ready", "RouteReady", "ConfigurationReady")}
        status.conditions = [c for c in status.conditions or [] if c.type not in drop]

    def _reconcile_ingress(self, raw: Obj, isvc: InferenceService) -> None:
        now = self._clock
        ns = isvc.namespace or "default"
        try:
            applied = apply_owned(
                self._store, HTTP_ROUTE, build_http_route(isvc, self._config), isvc.metadata.uid or ""
            )
        except NotOwnedError as exc:
            mark_ingress_not_ready(isvc, "HTTPRouteNotOwned", str(exc), now)
            return
        except NotFound as exc:  # the kind itself is not served: Gateway API not installed
            message = f"HTTPRoute (gateway.networking.k8s.io/v1) is not available: {exc}"
            mark_ingress_not_ready(isvc, "GatewayAPINotInstalled", message, now)
            if transitions(raw, INGRESS_READY, "False", "GatewayAPINotInstalled", message):
                self._recorder.event(raw, WARNING, "GatewayAPINotInstalled", message)
            return
        if applied.action == "created":
            self._recorder.event(raw, NORMAL, "Created", f"Created HTTPRoute {isvc.name}")
        accepted, why = _route_acceptance(applied.object)
        if not accepted:
            reason = "HTTPRouteNotAccepted" if why else "HTTPRoutePending"
            why = why or "waiting for the gateway to accept the HTTPRoute"
            mark_ingress_not_ready(isvc, reason, why, now)
            return
        scheme = self._config.url_scheme
        local_url = f"http://{cluster_local_host(isvc.name, ns, self._config.cluster_domain)}"
        url = f"{scheme}://{external_host(isvc.name, ns, self._config.domain)}"
        if is_cluster_local(isvc.labels, isvc.annotations):
            url = local_url  # private: no external URL, as KServe reports it
        mark_ingress_ready(isvc, url, local_url, now)

    # -- invalid objects and status writes -----------------------------------------------------------
    def _invalid(self, raw: Obj, messages: list[str]) -> Result:
        generation = (raw.get("metadata") or {}).get("generation")
        status = invalid_status(raw.get("status"), messages, generation, self._clock())
        if transitions(raw, READY, "False", INVALID_SPEC, "; ".join(messages)):
            self._recorder.event(raw, WARNING, INVALID_SPEC, "; ".join(messages))
        write_status(self._store, INFERENCE_SERVICE, raw, status)
        return Result()

    def _write(self, raw: Obj, status: InferenceServiceStatus) -> None:
        try:
            new = keep_transition_times(raw.get("status"), status.to_dict())
            write_status(self._store, INFERENCE_SERVICE, raw, new)
        except NotFound:
            log.info("InferenceService %s was deleted during reconcile", raw["metadata"].get("name"))


def _service_status(ksvc: Obj) -> ServiceStatus | None:
    status = ksvc.get("status")
    if not status:
        return None
    parsed: ServiceStatus = ServiceStatus.model_validate(status)
    return parsed


def _route_acceptance(route: Obj) -> tuple[bool, str]:
    """Whether a gateway serves the HTTPRoute: ``(True, "")`` once a parent reports ``Accepted=True``.

    A route no gateway has reported on yet is not ready (requests would not route), so the
    InferenceService is not Ready either; ``(False, message)`` when a parent refused it.
    """
    accepted, refused = False, ""
    for parent in (route.get("status") or {}).get("parents") or []:
        for condition in parent.get("conditions") or []:
            if condition.get("type") != "Accepted":
                continue
            if condition.get("status") == "True":
                accepted = True
            elif condition.get("status") == "False":
                refused = str(condition.get("message") or condition.get("reason") or "not accepted")
    return (accepted and not refused), refused


def _condition_status(obj: Obj, condition_type: str) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == condition_type:
            return str(condition.get("status"))
    return None
