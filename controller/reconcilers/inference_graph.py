"""The InferenceGraph reconciler: wait for the graph's InferenceServices, then run its router.

As KServe's graph controller: the router's Knative Service ``<graph>`` is created only once every
InferenceService a ``serviceName`` step names exists and is Ready (their addresses and protocols are
baked into ``--graph-json``); until then ``ServicesReady`` is Unknown, naming what it waits for, and
the graph is looked at again after :data:`WAIT_REQUEUE_SECONDS` (InferenceService changes also wake
it through the loop's watches).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from zeroserve.apis.field_errors import from_pydantic
from zeroserve.apis.knative.serving.v1 import ServiceStatus
from zeroserve.apis.serving.v1alpha1 import InferenceGraph
from zeroserve.apis.serving.v1alpha1.defaults import default_inference_graph
from zeroserve.apis.serving.v1alpha1.lifecycle import (
    ROUTER_READY,
    manage,
    mark_services_not_ready,
    mark_services_ready,
    propagate_router_status,
)
from zeroserve.apis.serving.v1alpha1.validation import validate_inference_graph
from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.controller.errors import NotFound
from zeroserve.controller.events import NORMAL, WARNING
from zeroserve.controller.kinds import INFERENCE_GRAPH, INFERENCE_SERVICE, KNATIVE_SERVICE
from zeroserve.controller.reconcilers.apply import NotOwnedError, apply_owned, write_status
from zeroserve.controller.reconcilers.base import ReconcilerBase
from zeroserve.controller.reconcilers.invalid import INVALID_SPEC, invalid_status
from zeroserve.controller.reconcilers.result import Result
from zeroserve.controller.reconcilers.transitions import keep_transition_times, transitions
from zeroserve.controller.resources.inference_graph import (
    build_graph_service,
    referenced_services,
    service_step_url,
)
from zeroserve.controller.store import Obj

__all__ = ["WAIT_REQUEUE_SECONDS", "InferenceGraphReconciler"]

log = logging.getLogger(__name__)

WAIT_REQUEUE_SECONDS = 10.0


def _is_ready(obj: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    )


class InferenceGraphReconciler(ReconcilerBase):
    """Reconciles one InferenceGraph at a time.

    Args:
        store: the API.
        config: the controller configuration.
        recorder: where user-visible Events go.
        clock: current UTC time, for condition transition times.
    """

    def reconcile(self, namespace: str, name: str) -> Result:
        """Bring the router and status of ``namespace/name`` in line with its spec.

        Args:
            namespace: the InferenceGraph's namespace.
            name: its name.

        Returns:
            A requeue while referenced InferenceServices are not ready.
        """
        try:
            raw = self._store.get(INFERENCE_GRAPH, namespace, name)
        except NotFound:
            return Result()
        if (raw.get("metadata") or {}).get("deletionTimestamp"):
            return Result()
        generation = (raw.get("metadata") or {}).get("generation")
        try:
            graph = default_inference_graph(InferenceGraph.from_dict(raw))
            errors = [str(e) for e in validate_inference_graph(graph)]
        except ValidationError as exc:
            errors = [str(e) for e in from_pydantic(exc)]
        if errors:
            if transitions(raw, "Ready", "False", INVALID_SPEC, "; ".join(errors)):
                self._recorder.event(raw, WARNING, INVALID_SPEC, "; ".join(errors))
            write_status(
                self._store,
                INFERENCE_GRAPH,
                raw,
                invalid_status(raw.get("status"), errors, generation, self._clock()),
            )
            return Result()

        now = self._clock
        manage(graph, now)
        urls: dict[str, str] = {}
        waiting: list[str] = []
        for service in referenced_services(graph):
            try:
                target = self._store.get(INFERENCE_SERVICE, namespace, service)
            except NotFound:
                waiting.append(f"{service} (not found)")
                continue
            if not _is_ready(target):
                waiting.append(service)
                continue
            urls[service] = service_step_url(InferenceService.from_dict(target), self._config)
        result = Result()
        if waiting:
            mark_services_not_ready(graph, waiting, now)
            result = Result(requeue_after=WAIT_REQUEUE_SECONDS)
        else:
            mark_services_ready(graph, now)
            self._reconcile_router(raw, graph, urls)
        assert graph.status is not None
        graph.status.observed_generation = generation
        try:
            new = keep_transition_times(raw.get("status"), graph.status.to_dict())
            write_status(self._store, INFERENCE_GRAPH, raw, new)
        except NotFound:
            log.info("InferenceGraph %s was deleted during reconcile", name)
        return result

    def _reconcile_router(self, raw: Obj, graph: InferenceGraph, urls: dict[str, str]) -> None:
        desired = build_graph_service(graph, urls, self._config)
        try:
            applied = apply_owned(self._store, KNATIVE_SERVICE, desired, graph.metadata.uid or "")
        except NotOwnedError as exc:
            manage(graph, self._clock).mark_false(ROUTER_READY, "ServiceNotOwned", str(exc))
            if transitions(raw, ROUTER_READY, "False", "ServiceNotOwned", str(exc)):
                self._recorder.event(raw, WARNING, "ServiceNotOwned", str(exc))
            return
        if applied.action != "unchanged":
            verb = applied.action.capitalize()
            self._recorder.event(raw, NORMAL, verb, f"{verb} router Knative Service {graph.name}")
        status = applied.object.get("status")
        propagate_router_status(graph, ServiceStatus.model_validate(status) if status else None, self._clock)
