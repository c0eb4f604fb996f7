"""The SeldonDeployment reconciler: components, orchestrators and the route, then Seldon's status.

Each reconcile applies, owned by the deployment from creation: every predictor's component Knative
Services and its orchestrator (:mod:`zeroserve.controller.resources.seldon_deployment`), and the
``HTTPRoute`` ``<sdep>`` (:mod:`zeroserve.controller.resources.seldon_route`). Knative Services the
deployment owns that it no longer needs (a unit or predictor removed) are deleted. The status is
Seldon's operator's (:mod:`zeroserve.apis.seldon.lifecycle`); an invalid spec gives ``state:
Failed`` with the errors as ``description`` and a Warning Event.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from pydantic import ValidationError

from zeroserve.apis.field_errors import from_pydantic
from zeroserve.apis.seldon import SeldonDeployment, SeldonDeploymentStatus
from zeroserve.apis.seldon.defaults import default_seldon_deployment
from zeroserve.apis.seldon.lifecycle import FAILED, deployment_status
from zeroserve.apis.seldon.validation import validate_seldon_deployment
from zeroserve.controller.errors import NotFound
from zeroserve.controller.events import NORMAL, WARNING
from zeroserve.controller.kinds import HTTP_ROUTE, KNATIVE_SERVICE, SELDON_DEPLOYMENT, Kind
from zeroserve.controller.reconcilers.apply import NotOwnedError, apply_owned, write_status
from zeroserve.controller.reconcilers.base import ReconcilerBase
from zeroserve.controller.reconcilers.invalid import INVALID_SPEC
from zeroserve.controller.reconcilers.result import Result
from zeroserve.controller.reconcilers.transitions import keep_transition_times, transitions
from zeroserve.controller.resources.seldon_deployment import (
    SELDON_DEPLOYMENT_LABEL,
    build_component_services,
    build_orchestrator_service,
)
from zeroserve.controller.resources.seldon_route import build_seldon_route, predictions_url
from zeroserve.controller.store import Obj

__all__ = ["REPLICAS_REFRESH_SECONDS", "SeldonDeploymentReconciler"]

log = logging.getLogger(__name__)

REPLICAS_REFRESH_SECONDS = 30.0
"""How often ``deploymentStatus`` replicas are read again (revisions scaling does not wake the reconcile)."""

_REVISION = Kind("serving.knative.dev", "v1", "Revision", "revisions")


class SeldonDeploymentReconciler(ReconcilerBase):
    """Reconciles one SeldonDeployment at a time.

    Args:
        store: the API.
        config: the controller configuration.
        recorder: where user-visible Events go.
        clock: current UTC time, for condition transition times.
    """

    def reconcile(self, namespace: str, name: str) -> Result:
        """Bring the children and status of ``namespace/name`` in line with its spec.

        Args:
            namespace: the deployment's namespace.
            name: its name.

        Returns:
            A requeue after :data:`REPLICAS_REFRESH_SECONDS` to refresh the replica counts (changes of
            the Knative Services wake the deployment sooner, through the watches); none when invalid.
        """
        try:
            raw = self._store.get(SELDON_DEPLOYMENT, namespace, name)
        except NotFound:
            return Result()
        if (raw.get("metadata") or {}).get("deletionTimestamp"):
            return Result()
        generation = (raw.get("metadata") or {}).get("generation")
        try:
            sdep = default_seldon_deployment(SeldonDeployment.from_dict(raw))
            errors = [str(e) for e in validate_seldon_deployment(sdep)]
        except ValidationError as exc:
            errors = [str(e) for e in from_pydantic(exc)]
        if errors:
            self._fail(raw, "; ".join(errors), INVALID_SPEC, generation)
            return Result()

        desired = []
        for predictor in sdep.spec.predictors:
            desired += build_component_services(sdep, predictor, self._config)
            desired.append(build_orchestrator_service(sdep, predictor, self._config))
        applied: dict[str, Obj | None] = {}
        replicas: dict[str, int] = {}
        try:
            for service in desired:
                name_ = service["metadata"]["name"]
                result = apply_owned(self._store, KNATIVE_SERVICE, service, sdep.metadata.uid or "")
                if result.action != "unchanged":
                    verb = result.action.capitalize()
                    self._recorder.event(raw, NORMAL, verb, f"{verb} Knative Service {name_}")
                applied[name_] = result.object
                replicas[name_] = self._replicas(namespace, result.object)
            route = apply_owned(
                self._store, HTTP_ROUTE, build_seldon_route(sdep, self._config), sdep.metadata.uid or ""
            )
        except NotOwnedError as exc:
            self._fail(raw, str(exc), "NotOwned", generation)
            return Result()
        self._prune(sdep, set(applied))
        url = predictions_url(sdep, self._config) if route.object else None
        previous = SeldonDeploymentStatus.model_validate(raw["status"]) if raw.get("status") else None
        status = deployment_status(applied, url, replicas, self._clock, previous)
        status.observed_generation = generation
        if status.state == FAILED and transitions(raw, "Ready", "False", "ServiceFailed", None):
            self._recorder.event(raw, WARNING, "ServiceFailed", status.description or "")
        try:
            new = keep_transition_times(raw.get("status"), status.to_dict())
            write_status(self._store, SELDON_DEPLOYMENT, raw, new)
        except NotFound:
            log.info("SeldonDeployment %s was deleted during reconcile", name)
        return Result(requeue_after=REPLICAS_REFRESH_SECONDS)

    def _replicas(self, namespace: str, ksvc: Obj) -> int:
        revision = (ksvc.get("status") or {}).get("latestReadyRevisionName")
        if not revision:
            return 0
        try:
            found = self._store.get(_REVISION, namespace, str(revision))
        except NotFound:
            return 0
        return int((found.get("status") or {}).get("actualReplicas") or 0)

    def _prune(self, sdep: SeldonDeployment, keep: set[str]) -> None:
        for item in self._store.list(KNATIVE_SERVICE, sdep.namespace or "default").items:
            meta = item.get("metadata") or {}
            if (
                meta.get("name") in keep
                or (meta.get("labels") or {}).get(SELDON_DEPLOYMENT_LABEL) != sdep.name
            ):
                continue
            if any(
                r.get("uid") == sdep.metadata.uid and r.get("controller")
                for r in meta.get("ownerReferences") or []
            ):
                with contextlib.suppress(NotFound):
                    self._store.delete(KNATIVE_SERVICE, sdep.namespace or "default", str(meta["name"]))

    def _fail(self, raw: Obj, message: str, reason: str, generation: Any) -> None:
        if (raw.get("status") or {}).get("description") != message:
            self._recorder.event(raw, WARNING, reason, message)
        stored = dict(raw.get("status") or {})
        stored.update({"state": FAILED, "description": message, "observedGeneration": generation})
        conditions = [c for c in stored.get("conditions") or [] if c.get("type") != "Ready"]
        conditions.append(
            {
                "type": "Ready",
                "status": "False",
                "reason": reason,
                "message": message,
                "lastTransitionTime": self._clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        stored["conditions"] = conditions
        write_status(self._store, SELDON_DEPLOYMENT, raw, keep_transition_times(raw.get("status"), stored))
