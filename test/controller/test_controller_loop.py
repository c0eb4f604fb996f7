"""The operator loop end to end over the store interface: watches, queue, workers, leader election.

Runs real threads against the API-like in-memory store (the embedded API server replaces it in the
end-to-end tier); waits are polls with a deadline, never fixed sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from support.waiting import wait_until

from zeroserve.controller.controller import Controller, ControllerOptions
from zeroserve.controller.errors import NotFound
from zeroserve.controller.kinds import (
    CONFIG_MAP,
    HTTP_ROUTE,
    INFERENCE_GRAPH,
    INFERENCE_SERVICE,
    KNATIVE_SERVICE,
    LEASE,
)
from zeroserve.controller.leader import LeaseConfig
from zeroserve.controller.queue import ExponentialBackoff

from .knative_sim import KnativeSim
from .memstore import MemStore

NS = "default"


def options(**overrides: Any) -> ControllerOptions:
    base: dict[str, Any] = {
        "workers": 2,
        "watch_timeout_seconds": 1,
        "backoff": ExponentialBackoff(base=0.01, cap=0.2),
    }
    base.update(overrides)
    return ControllerOptions(**base)


@contextmanager
def running(controller: Controller) -> Iterator[threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the controller must stop when asked"


def iris(name: str = "iris") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {"predictor": {"sklearn": {"storageUri": "gs://models/iris"}}},
    }


def ready(store: MemStore, kind: Any, name: str) -> bool:
    conditions = store.get(kind, NS, name).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_loop_reconciles_created_objects_to_ready(store: MemStore) -> None:
    controller = Controller(store, options=options())
    sim = KnativeSim(store)
    with running(controller):
        assert controller.started.wait(10)
        store.create(INFERENCE_SERVICE, iris())
        wait_until(
            lambda: ready(store, INFERENCE_SERVICE, "iris"),
            what="InferenceService iris Ready",
            before_each=sim.sync,
        )
        store.create(
            INFERENCE_GRAPH,
            {
                "metadata": {"name": "g", "namespace": NS},
                "spec": {"nodes": {"root": {"routerType": "Sequence", "steps": [{"serviceName": "iris"}]}}},
            },
        )
        wait_until(
            lambda: ready(store, INFERENCE_GRAPH, "g"), what="InferenceGraph g Ready", before_each=sim.sync
        )


def test_loop_picks_up_objects_that_existed_before_it_started(store: MemStore) -> None:
    store.create(INFERENCE_SERVICE, iris("early"))
    with running(Controller(store, options=options())):
        wait_until(lambda: store.get(KNATIVE_SERVICE, NS, "early-predictor"), what="ksvc early-predictor")


def test_a_graph_waiting_on_a_service_is_woken_by_that_service(store: MemStore) -> None:
    # the requeue delay is long: only the service's own events can wake the graph in time
    sim = KnativeSim(store)
    store.create(
        INFERENCE_GRAPH,
        {
            "metadata": {"name": "g", "namespace": NS},
            "spec": {"nodes": {"root": {"routerType": "Sequence", "steps": [{"serviceName": "late"}]}}},
        },
    )
    controller = Controller(store, options=options())
    with running(controller):
        assert controller.started.wait(10)
        wait_until(
            lambda: store.get(INFERENCE_GRAPH, NS, "g")["status"]["conditions"], what="graph g conditions"
        )
        store.create(INFERENCE_SERVICE, iris("late"))
        wait_until(lambda: store.get(KNATIVE_SERVICE, NS, "g"), 5, what="ksvc g", before_each=sim.sync)


def test_a_changed_child_is_put_back(store: MemStore) -> None:
    with running(Controller(store, options=options())):
        store.create(INFERENCE_SERVICE, iris())
        ksvc = wait_until(
            lambda: store.get(KNATIVE_SERVICE, NS, "iris-predictor"), what="ksvc iris-predictor"
        )
        ksvc["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] = "7"
        store.update(KNATIVE_SERVICE, ksvc)
        wait_until(
            lambda: (
                store.get(KNATIVE_SERVICE, NS, "iris-predictor")["spec"]["template"]["metadata"][
                    "annotations"
                ]["autoscaling.knative.dev/min-scale"]
                == "1"
            ),
            what="min-scale put back to 1",
        )


def test_the_configmap_overrides_the_domain(store: MemStore) -> None:
    store.create(
        CONFIG_MAP,
        {
            "metadata": {"name": "inferenceservice-config", "namespace": "zs"},
            "data": {"ingress": '{"ingressDomain": "models.internal"}'},
        },
    )
    sim = KnativeSim(store)
    with running(Controller(store, options=options(config_namespace="zs"))):
        store.create(INFERENCE_SERVICE, iris())
        wait_until(
            lambda: store.get(INFERENCE_SERVICE, NS, "iris")["status"].get("url"),
            what="isvc iris URL",
            before_each=sim.sync,
        )
    assert store.get(INFERENCE_SERVICE, NS, "iris")["status"]["url"] == "http://iris.default.models.internal"


def test_two_replicas_only_one_reconciles_and_the_other_takes_over(store: MemStore) -> None:
    lease = LeaseConfig(namespace="zs", name="leader", lease_duration=2, renew_deadline=1, retry_period=0.05)
    a = Controller(store, options=options(leader_elect=True, identity="a", lease=lease))
    b = Controller(store, options=options(leader_elect=True, identity="b", lease=lease))
    stop_a = threading.Event()
    thread_a = threading.Thread(target=a.run, args=(stop_a,), daemon=True)
    thread_a.start()
    assert a.started.wait(10)
    with running(b):
        store.create(INFERENCE_SERVICE, iris())
        wait_until(lambda: store.get(KNATIVE_SERVICE, NS, "iris-predictor"), what="ksvc iris-predictor")
        assert not b.started.is_set(), "the second replica must wait for the lease"
        assert store.get(LEASE, "zs", "leader")["spec"]["holderIdentity"] == "a"
        stop_a.set()
        thread_a.join(10)
        assert b.started.wait(10), "the second replica takes over once the first releases the lease"
        assert store.get(LEASE, "zs", "leader")["spec"]["holderIdentity"] == "b"
        store.create(INFERENCE_SERVICE, iris("after"))
        wait_until(lambda: store.get(KNATIVE_SERVICE, NS, "after-predictor"), what="ksvc after-predictor")


def test_metrics_count_reconciles_and_the_health_endpoint_serves_them(store: MemStore) -> None:
    import httpx
    from prometheus_client import CollectorRegistry

    from zeroserve.controller.metrics import ControllerMetrics, HealthServer

    registry = CollectorRegistry()
    controller = Controller(store, options=options(), metrics=ControllerMetrics(registry))
    health = HealthServer("127.0.0.1", 0, registry, controller.started.is_set)
    health.start()
    try:
        base = f"http://127.0.0.1:{health.port}"
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 503
        with running(controller):
            assert controller.started.wait(10)
            assert httpx.get(f"{base}/readyz").status_code == 200
            store.create(INFERENCE_SERVICE, iris())
            wait_until(lambda: store.get(KNATIVE_SERVICE, NS, "iris-predictor"), what="ksvc iris-predictor")
            text = wait_until(
                lambda: (
                    (body := httpx.get(f"{base}/metrics").text)
                    and 'zeroserve_controller_reconcile_total{kind="InferenceService",result="success"}'
                    in body
                    and body
                ),
                what="a successful InferenceService reconcile in /metrics",
            )
            assert "zeroserve_controller_leader 1.0" in text
    finally:
        health.stop()


class _NoGatewayApi(MemStore):
    """An API server without the Gateway API installed: every HTTPRoute request is a 404."""

    def _refuse(self, kind: Any) -> None:
        if kind == HTTP_ROUTE:
            raise NotFound("the server could not find the requested resource", 404)

    def get(self, kind: Any, namespace: str, name: str) -> Any:
        self._refuse(kind)
        return super().get(kind, namespace, name)

    def list(self, kind: Any, namespace: str | None = None, label_selector: str = "") -> Any:
        self._refuse(kind)
        return super().list(kind, namespace, label_selector)

    def create(self, kind: Any, obj: Any) -> Any:
        self._refuse(kind)
        return super().create(kind, obj)

    def watch(self, kind: Any, namespace: str | None, resource_version: str, timeout_seconds: int) -> Any:
        self._refuse(kind)
        return super().watch(kind, namespace, resource_version, timeout_seconds)


def test_without_the_gateway_api_the_loop_runs_and_says_why_ingress_is_not_ready() -> None:
    store = _NoGatewayApi()
    sim = KnativeSim(store)
    controller = Controller(store, options=options())
    with running(controller):
        assert controller.started.wait(10), "an unserved kind must not hold the start up"
        store.create(INFERENCE_SERVICE, iris())

        def ingress_reason() -> Any:
            for c in store.get(INFERENCE_SERVICE, NS, "iris").get("status", {}).get("conditions", []):
                if c["type"] == "IngressReady" and c.get("reason") == "GatewayAPINotInstalled":
                    return c
            return None

        wait_until(ingress_reason, what="the ingress reason", before_each=sim.sync)
        predictor = store.get(INFERENCE_SERVICE, NS, "iris")["status"]["components"]["predictor"]
        assert predictor["url"] == "http://iris-predictor.default.example.com", (
            "the component URL still works"
        )
