"""The operator loop: watches feed one work queue; workers run the reconcilers.

Wiring only; the reconcile logic lives in :mod:`.reconcilers`. The loop is level-triggered: a watch
event only says *which* object to look at, the reconciler reads the current state itself, and a
periodic relist (``resync_seconds``) enqueues everything again, so a missed event costs latency, never
correctness. The queue serializes work per object and retries failures with backoff.

Watched: InferenceServices, InferenceGraphs, and the Knative Services and HTTPRoutes they own (mapped
to their controlling owner); a (Cluster)ServingRuntime change wakes the InferenceServices it may
concern. An InferenceService change also wakes the InferenceGraphs that call it.
A kind the API server does not serve (no Knative, no Gateway API) is looked for again every minute.

In-process use (the embedded platform starts it in a thread)::

    store = KubeStore.from_kubeconfig(path)
    controller = Controller(store, ControllerConfig(domain="example.com"))
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start(); controller.started.wait(30)
    ...
    stop.set(); thread.join()
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zeroserve.controller.config import CONFIGMAP_NAME, ControllerConfig
from zeroserve.controller.errors import Gone, NotFound, StoreError
from zeroserve.controller.events import EventRecorder
from zeroserve.controller.kinds import (
    CLUSTER_SERVING_RUNTIME,
    CONFIG_MAP,
    HTTP_ROUTE,
    INFERENCE_GRAPH,
    INFERENCE_SERVICE,
    KNATIVE_SERVICE,
    SELDON_DEPLOYMENT,
    SERVING_RUNTIME,
    TRAINED_MODEL,
    Kind,
)
from zeroserve.controller.leader import LeaderElector, LeaseConfig
from zeroserve.controller.metrics import ControllerMetrics
from zeroserve.controller.queue import ExponentialBackoff, WorkQueue
from zeroserve.controller.reconcilers import (
    InferenceGraphReconciler,
    InferenceServiceReconciler,
    Result,
    SeldonDeploymentReconciler,
)
from zeroserve.controller.reconcilers.trained_model import TrainedModelReconciler
from zeroserve.controller.reconcilers.trained_model_state import ModelStateReader
from zeroserve.controller.store import Obj, Store, Watch

__all__ = ["Controller", "ControllerOptions", "Key"]

log = logging.getLogger(__name__)

Key = tuple[str, str, str]
"""(kind, namespace, name) of an object to reconcile; kind is ``InferenceService`` or ``InferenceGraph``."""


def _default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


@dataclass
class ControllerOptions:
    """How the loop runs (as opposed to :class:`ControllerConfig`, what it builds)."""

    namespace: str | None = None
    """Watch one namespace; ``None`` watches all."""
    workers: int = 2
    """Reconciles that may run at once (never two for the same object)."""
    leader_elect: bool = False
    """Reconcile only while holding the Lease (run several replicas safely)."""
    identity: str = field(default_factory=_default_identity)
    """This replica's Lease holder identity."""
    lease: LeaseConfig = field(default_factory=LeaseConfig)
    config_namespace: str | None = None
    """Namespace of the ``inferenceservice-config`` ConfigMap to overlay on the configuration
    (read at start and at every resync); ``None`` uses the configuration as given."""
    resync_seconds: float = 600.0
    """Relist and enqueue everything this often."""
    watch_timeout_seconds: int = 300
    """Server-side timeout of one watch request (the watch is then re-opened)."""
    backoff: ExponentialBackoff = field(default_factory=ExponentialBackoff)
    """Retry delays of failed reconciles."""


class Controller:
    """The InferenceService / InferenceGraph operator.

    Args:
        store: the API (see :class:`zeroserve.controller.kube.KubeStore`).
        config: what to build; KServe's defaults when ``None``.
        options: how to run the loop.
        clock: monotonic seconds for the queue's delays (injected in tests).
        now: UTC time for conditions, events and the Lease.
        metrics: where to count reconciles (none when ``None``).
        model_states: how TrainedModels' model servers are asked about their models (directly at
            the predictors' cluster addresses when ``None``; the embedded platform goes through
            its gateway).
    """

    def __init__(
        self,
        store: Store,
        config: ControllerConfig | None = None,
        options: ControllerOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: ControllerMetrics | None = None,
        model_states: ModelStateReader | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.base_config = config or ControllerConfig()
        self.config = self.base_config
        self.options = options or ControllerOptions()
        self._clock = clock
        self._now = now
        self.queue: WorkQueue[Key] = WorkQueue(clock, self.options.backoff)
        self.started = threading.Event()
        """Set once every watch has listed its kind and the workers run."""
        self.leadership_lost = False
        self._recorder = EventRecorder(store, instance=self.options.identity, clock=now)
        self._graph_refs: dict[tuple[str, str], set[str]] = {}
        self._services: set[tuple[str, str]] = set()
        self._model_refs: dict[tuple[str, str], str] = {}
        self._refs_lock = threading.Lock()
        self._watches: set[Watch] = set()
        self._watches_lock = threading.Lock()
        self._reconcilers: dict[str, Any] = {}
        self.model_states = model_states if model_states is not None else ModelStateReader()
        self._build_reconcilers()

    # -- public ----------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set (or, with leader election, leadership is lost).

        Args:
            stop: set it from any thread to stop; ``run`` returns once watches and workers ended.
        """
        if not self.options.leader_elect:
            self._run_leading(stop)
            return
        elector = LeaderElector(self.store, self.options.identity, self.options.lease, self._now)
        leading_stop = threading.Event()
        threads: list[threading.Thread] = []

        def started() -> None:
            thread = threading.Thread(
                target=self._run_leading, args=(leading_stop,), name="controller-leading"
            )
            thread.start()
            threads.append(thread)

        def stopped() -> None:
            leading_stop.set()
            for thread in threads:
                thread.join()

        self.leadership_lost = elector.run(stop, started, stopped)

    def reconcile_key(self, key: Key) -> Result:
        """Reconcile one object now (what a worker does with a key)."""
        kind, namespace, name = key
        start = time.monotonic()
        outcome = "error"
        try:
            result: Result = self._reconcilers[kind].reconcile(namespace, name)
            outcome = "requeue" if result.requeue_after is not None else "success"
            return result
        finally:
            if self.metrics is not None:
                self.metrics.reconciles.labels(kind, outcome).inc()
                self.metrics.duration.labels(kind).observe(time.monotonic() - start)
                self.metrics.queue_depth.set(len(self.queue))

    # -- the leading part: watches and workers ---------------------------------------------------------
    def _run_leading(self, stop: threading.Event) -> None:
        self.queue = WorkQueue(self._clock, self.options.backoff)
        self._load_config()
        kinds: list[tuple[Kind, Callable[[str, Obj], None]]] = [
            (INFERENCE_SERVICE, self._on_inference_service),
            (INFERENCE_GRAPH, self._on_inference_graph),
            (SELDON_DEPLOYMENT, self._on_seldon_deployment),
            (KNATIVE_SERVICE, self._on_owned),
            (HTTP_ROUTE, self._on_owned),
            (SERVING_RUNTIME, self._on_runtime),
            (CLUSTER_SERVING_RUNTIME, self._on_runtime),
            (TRAINED_MODEL, self._on_trained_model),
        ]
        listed = [threading.Event() for _ in kinds]
        informers = [
            threading.Thread(
                target=self._inform, args=(kind, handler, stop, done), name=f"watch-{kind.plural}"
            )
            for (kind, handler), done in zip(kinds, listed, strict=True)
        ]
        for thread in informers:
            thread.start()
        workers = [
            threading.Thread(target=self._work, name=f"reconcile-{i}")
            for i in range(max(1, self.options.workers))
        ]
        for thread in workers:
            thread.start()
        deadline = time.monotonic() + 60
        for done in listed:
            while not done.wait(0.1) and not stop.is_set() and time.monotonic() < deadline:
                pass
        self.started.set()
        if self.metrics is not None:
            self.metrics.leader.set(1)
        log.info("controller running (namespace=%s, workers=%d)", self.options.namespace or "*", len(workers))
        stop.wait()
        self.queue.shutdown()
        with self._watches_lock:
            for watch in list(self._watches):
                watch.close()
        for thread in informers + workers:
            thread.join(timeout=30)
        self.started.clear()
        if self.metrics is not None:
            self.metrics.leader.set(0)
        log.info("controller stopped")

    def _inform(
        self,
        kind: Kind,
        handler: Callable[[str, Obj], None],
        stop: threading.Event,
        listed: threading.Event,
    ) -> None:
        resource_version = ""
        last_list = 0.0
        failures = 0
        first = True
        while not stop.is_set():
            try:
                if not resource_version or time.monotonic() - last_list > self.options.resync_seconds:
                    if not first and kind == INFERENCE_SERVICE:
                        self._load_config()
                    answer = self.store.list(kind, self.options.namespace)
                    for item in answer.items:
                        handler("ADDED", item)
                    resource_version, last_list = answer.resource_version, time.monotonic()
                    if first:
                        first = False
                        listed.set()
                watch = self.store.watch(
                    kind, self.options.namespace, resource_version, self.options.watch_timeout_seconds
                )
                with self._watches_lock:
                    self._watches.add(watch)
                try:
                    for event in watch:
                        if stop.is_set():
                            break
                        version = (event.object.get("metadata") or {}).get("resourceVersion")
                        if version:
                            resource_version = version
                        if event.type != "BOOKMARK":
                            handler(event.type, event.object)
                finally:
                    with self._watches_lock:
                        self._watches.discard(watch)
                    watch.close()
                failures = 0
            except Gone:
                resource_version = ""
            except NotFound:
                # the kind is not served (Knative or the Gateway API not installed): look again later
                listed.set()
                log.warning("%s are not served by this API server; looking again in 60s", kind.plural)
                resource_version = ""
                stop.wait(60.0)
            except Exception as exc:  # the API is down or refused: back off and list again
                if stop.is_set():
                    break
                delay = self.options.backoff.delay(failures)
                failures += 1
                log.warning("watching %s failed (%s); retrying in %.1fs", kind.plural, exc, delay)
                resource_version = ""
                stop.wait(delay)
        listed.set()

    def _work(self) -> None:
        while True:
            key = self.queue.get()
            if key is None:
                return
            try:
                result = self.reconcile_key(key)
            except Exception as exc:
                delay = self.queue.add_rate_limited(key)
                level = logging.WARNING if isinstance(exc, StoreError) else logging.ERROR
                log.log(
                    level,
                    "reconciling %s %s/%s failed: %s; retry in %.2fs",
                    *key,
                    exc,
                    delay,
                    exc_info=level >= logging.ERROR,
                )
            else:
                self.queue.forget(key)
                if result.requeue_after is not None:
                    self.queue.add_after(key, result.requeue_after)
                for other in result.also:
                    self.queue.add(other)
            finally:
                self.queue.done(key)

    # -- event handlers ----------------------------------------------------------------------------
    def _on_inference_service(self, type_: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        with self._refs_lock:
            if type_ == "DELETED":
                self._services.discard((namespace, name))
            else:
                self._services.add((namespace, name))
        self.queue.add((INFERENCE_SERVICE.kind, namespace, name))
        with self._refs_lock:
            callers = [g for (ns, g), refs in self._graph_refs.items() if ns == namespace and name in refs]
            models = [m for (ns, m), target in self._model_refs.items() if ns == namespace and target == name]
        for graph in callers:
            self.queue.add((INFERENCE_GRAPH.kind, namespace, graph))
        for model in models:
            self.queue.add((TRAINED_MODEL.kind, namespace, model))

    def _on_inference_graph(self, type_: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        refs = {
            step.get("serviceName")
            for node in ((obj.get("spec") or {}).get("nodes") or {}).values()
            if isinstance(node, dict)
            for step in node.get("steps") or []
            if isinstance(step, dict) and step.get("serviceName")
        }
        with self._refs_lock:
            if type_ == "DELETED":
                self._graph_refs.pop(key, None)
            else:
                self._graph_refs[key] = {str(r) for r in refs}
        self.queue.add((INFERENCE_GRAPH.kind, *key))

    def _on_seldon_deployment(self, _type: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        self.queue.add((SELDON_DEPLOYMENT.kind, meta.get("namespace", ""), meta.get("name", "")))

    def _on_trained_model(self, type_: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        with self._refs_lock:
            if type_ == "DELETED":
                self._model_refs.pop(key, None)
            else:
                self._model_refs[key] = str((obj.get("spec") or {}).get("inferenceService", ""))
        self.queue.add((TRAINED_MODEL.kind, *key))

    def _on_runtime(self, _type: str, obj: Obj) -> None:
        # a runtime added, changed or removed may change any InferenceService's choice (a namespace's
        # ServingRuntime only that namespace's): look at them again
        namespace = (obj.get("metadata") or {}).get("namespace")
        with self._refs_lock:
            services = [key for key in self._services if namespace is None or key[0] == namespace]
        for ns, name in services:
            self.queue.add((INFERENCE_SERVICE.kind, ns, name))

    def _on_owned(self, _type: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        for ref in meta.get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") in (
                INFERENCE_SERVICE.kind,
                INFERENCE_GRAPH.kind,
                SELDON_DEPLOYMENT.kind,
            ):
                self.queue.add((str(ref["kind"]), meta.get("namespace", ""), str(ref.get("name"))))

    # -- configuration -----------------------------------------------------------------------------
    def _load_config(self) -> None:
        namespace = self.options.config_namespace
        if not namespace:
            return
        try:
            configmap = self.store.get(CONFIG_MAP, namespace, CONFIGMAP_NAME)
        except NotFound:
            config = self.base_config
        except StoreError as exc:
            log.warning(
                "reading ConfigMap %s/%s failed: %s; keeping the configuration",
                namespace,
                CONFIGMAP_NAME,
                exc,
            )
            return
        else:
            try:
                config = ControllerConfig.from_configmap(configmap.get("data") or {}, self.base_config)
            except ValueError as exc:
                log.error(
                    "ConfigMap %s/%s is invalid, keeping the configuration: %s",
                    namespace,
                    CONFIGMAP_NAME,
                    exc,
                )
                return
        if config != self.config:
            self.config = config
            self._build_reconcilers()

    def _build_reconcilers(self) -> None:
        self._reconcilers = {
            INFERENCE_SERVICE.kind: InferenceServiceReconciler(
                self.store, self.config, self._recorder, self._now
            ),
            INFERENCE_GRAPH.kind: InferenceGraphReconciler(
                self.store, self.config, self._recorder, self._now
            ),
            TRAINED_MODEL.kind: TrainedModelReconciler(
                self.store, self.config, self._recorder, self._now, self.model_states
            ),
            SELDON_DEPLOYMENT.kind: SeldonDeploymentReconciler(
                self.store, self.config, self._recorder, self._now
            ),
        }


def default_identity() -> str:
    """``<hostname>_<random>``, or ``$POD_NAME`` when the Deployment sets it."""
    return os.environ.get("POD_NAME") or _default_identity()
