"""Reconcile behaviour beyond canary: invalid specs, ignored fields, ownership, removal, conflicts, graphs."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.errors import Conflict
from zeroserve.controller.events import EventRecorder
from zeroserve.controller.kinds import (
    EVENT,
    HTTP_ROUTE,
    INFERENCE_GRAPH,
    INFERENCE_SERVICE,
    KNATIVE_SERVICE,
    Kind,
)
from zeroserve.controller.reconcilers import InferenceGraphReconciler, InferenceServiceReconciler
from zeroserve.controller.reconcilers.apply import is_subset
from zeroserve.controller.reconcilers.inference_graph import WAIT_REQUEUE_SECONDS
from zeroserve.controller.store import Obj

from .conftest import FakeClock
from .knative_sim import KnativeSim
from .memstore import MemStore

NS = "default"


def sklearn(name: str, **predictor: Any) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"predictor": {"sklearn": {"storageUri": "gs://models/iris"}, **predictor}},
    }


def reconciler(store: MemStore, clock: FakeClock) -> InferenceServiceReconciler:
    return InferenceServiceReconciler(
        store, ControllerConfig(), EventRecorder(store, clock=clock.now), clock.now
    )


def condition(obj: Obj, type_: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in obj["status"]["conditions"] if c["type"] == type_)
    return found


def events(store: MemStore) -> list[tuple[str, str, str]]:
    return [(e["type"], e["reason"], e["message"]) for e in store.list(EVENT, NS).items]


def test_invalid_spec_fails_ready_with_every_message_and_creates_nothing(
    store: MemStore, clock: FakeClock
) -> None:
    obj = sklearn("bad", minReplicas=3, maxReplicas=2)
    obj["spec"]["predictor"]["xgboost"] = {"storageUri": "gs://models/x"}
    store.create(INFERENCE_SERVICE, obj)
    reconciler(store, clock).reconcile(NS, "bad")
    stored = store.get(INFERENCE_SERVICE, NS, "bad")
    ready = condition(stored, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "spec.predictor" in ready["message"] and "exactly one" in ready["message"]
    assert "minReplicas" in ready["message"] or "MinReplicas" in ready["message"]
    assert ";" in ready["message"], "every validation message is reported, not just the first"
    assert stored["status"]["observedGeneration"] == 1
    assert store.list(KNATIVE_SERVICE).items == []
    assert any(t == "Warning" and r == "InvalidSpec" for t, r, _ in events(store))


def test_invalid_reconcile_twice_writes_nothing_new(store: MemStore, clock: FakeClock) -> None:
    store.create(INFERENCE_SERVICE, sklearn("bad", minReplicas=-1))
    r = reconciler(store, clock)
    r.reconcile(NS, "bad")
    writes = [w for w in store.writes if w[1] != "Event"]
    clock.advance(60)
    r.reconcile(NS, "bad")
    assert [w for w in store.writes if w[1] != "Event"] == writes


def test_ignored_fields_are_kept_and_reported(store: MemStore, clock: FakeClock) -> None:
    store.create(INFERENCE_SERVICE, sklearn("kept", deploymentStrategy={"type": "Recreate"}))
    reconciler(store, clock).reconcile(NS, "kept")
    stored = store.get(INFERENCE_SERVICE, NS, "kept")
    ignored = condition(stored, "IgnoredFields")
    assert "spec.predictor.deploymentStrategy" in ignored["message"]
    assert stored["spec"]["predictor"]["deploymentStrategy"] == {"type": "Recreate"}
    assert any(r == "IgnoredFields" for _, r, _ in events(store))
    assert store.get(KNATIVE_SERVICE, NS, "kept-predictor")


def test_unowned_service_of_the_same_name_is_not_touched(store: MemStore, clock: FakeClock) -> None:
    foreign = {"metadata": {"name": "iris-predictor", "namespace": NS}, "spec": {"template": {}}}
    store.create(KNATIVE_SERVICE, foreign)
    store.create(INFERENCE_SERVICE, sklearn("iris"))
    reconciler(store, clock).reconcile(NS, "iris")
    assert store.get(KNATIVE_SERVICE, NS, "iris-predictor")["spec"] == {"template": {}}
    ready = condition(store.get(INFERENCE_SERVICE, NS, "iris"), "PredictorReady")
    assert (ready["status"], ready["reason"]) == ("False", "ServiceNotOwned")


def test_children_are_owned_and_garbage_collected(store: MemStore, clock: FakeClock) -> None:
    store.create(INFERENCE_SERVICE, sklearn("iris"))
    r = reconciler(store, clock)
    r.reconcile(NS, "iris")
    KnativeSim(store).sync()
    r.reconcile(NS, "iris")
    uid = store.get(INFERENCE_SERVICE, NS, "iris")["metadata"]["uid"]
    for kind, name in ((KNATIVE_SERVICE, "iris-predictor"), (HTTP_ROUTE, "iris")):
        refs = store.get(kind, NS, name)["metadata"]["ownerReferences"]
        assert refs == [
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "name": "iris",
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    store.delete(INFERENCE_SERVICE, NS, "iris")
    assert store.list(KNATIVE_SERVICE).items == [] and store.list(HTTP_ROUTE).items == []
    r.reconcile(NS, "iris")  # a deleted object reconciles to nothing, without error


def test_removing_the_transformer_deletes_its_service_and_status(store: MemStore, clock: FakeClock) -> None:
    obj = sklearn("tr")
    obj["spec"]["transformer"] = {"containers": [{"name": "kserve-container", "image": "example.com/t:1"}]}
    store.create(INFERENCE_SERVICE, obj)
    r, sim = reconciler(store, clock), KnativeSim(store)
    for _ in range(2):
        r.reconcile(NS, "tr")
        sim.sync()
    r.reconcile(NS, "tr")
    stored = store.get(INFERENCE_SERVICE, NS, "tr")
    assert condition(stored, "Ready")["status"] == "True"
    assert store.get(HTTP_ROUTE, NS, "tr")["spec"]["rules"][0]["backendRefs"][0]["name"] == "tr-transformer"
    del stored["spec"]["transformer"]
    store.update(INFERENCE_SERVICE, stored)
    r.reconcile(NS, "tr")
    stored = store.get(INFERENCE_SERVICE, NS, "tr")
    assert [k["metadata"]["name"] for k in store.list(KNATIVE_SERVICE).items] == ["tr-predictor"]
    assert set(stored["status"]["components"]) == {"predictor"}
    assert "TransformerReady" not in {c["type"] for c in stored["status"]["conditions"]}
    assert store.get(HTTP_ROUTE, NS, "tr")["spec"]["rules"][0]["backendRefs"][0]["name"] == "tr-predictor"


def test_ingress_waits_for_the_components(store: MemStore, clock: FakeClock) -> None:
    store.create(INFERENCE_SERVICE, sklearn("iris"))
    reconciler(store, clock).reconcile(NS, "iris")
    ingress = condition(store.get(INFERENCE_SERVICE, NS, "iris"), "IngressReady")
    assert (ingress["status"], ingress["message"]) == ("False", "Predictor ingress not created")
    assert store.list(HTTP_ROUTE).items == []


@pytest.mark.parametrize(
    ("gateway", "reason", "message"),
    [
        (None, "HTTPRoutePending", "waiting for the gateway to accept the HTTPRoute"),
        ("Unknown", "HTTPRoutePending", "waiting for the gateway to accept the HTTPRoute"),
        ("False", "HTTPRouteNotAccepted", "no listener allows this route"),
    ],
)
def test_not_ready_until_a_gateway_accepts_the_route(
    store: MemStore, clock: FakeClock, gateway: str | None, reason: str, message: str
) -> None:
    # Ready promises that requests to the URL route: a route no gateway serves yet would answer 404
    store.create(INFERENCE_SERVICE, sklearn("iris"))
    r, sim = reconciler(store, clock), KnativeSim(store)
    sim.gateway = gateway
    for _ in range(3):
        r.reconcile(NS, "iris")
        sim.sync()
    stored = store.get(INFERENCE_SERVICE, NS, "iris")
    assert condition(stored, "PredictorReady")["status"] == "True"
    ingress = condition(stored, "IngressReady")
    assert (ingress["status"], ingress["reason"], ingress["message"]) == ("False", reason, message)
    assert condition(stored, "Ready")["status"] == "False"
    sim.gateway = "True"
    sim.sync()
    r.reconcile(NS, "iris")
    assert condition(store.get(INFERENCE_SERVICE, NS, "iris"), "Ready")["status"] == "True"


def test_steady_state_reconcile_writes_nothing(store: MemStore, clock: FakeClock) -> None:
    store.create(INFERENCE_SERVICE, sklearn("iris"))
    r, sim = reconciler(store, clock), KnativeSim(store)
    for _ in range(3):
        r.reconcile(NS, "iris")
        sim.sync()
    writes = len(store.writes)
    clock.advance(30)
    r.reconcile(NS, "iris")
    assert store.writes[writes:] == []


def test_server_side_defaults_on_children_do_not_cause_updates(store: MemStore, clock: FakeClock) -> None:
    store.create(INFERENCE_SERVICE, sklearn("iris"))
    r = reconciler(store, clock)
    r.reconcile(NS, "iris")
    ksvc = store.get(KNATIVE_SERVICE, NS, "iris-predictor")
    ksvc["metadata"].setdefault("annotations", {})["serving.knative.dev/creator"] = "admin"
    ksvc["spec"]["template"]["spec"]["timeoutSeconds"] = 300  # Knative's webhook defaulting
    ksvc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {"successThreshold": 1}
    store.update(KNATIVE_SERVICE, ksvc)
    writes = len(store.writes)
    r.reconcile(NS, "iris")
    assert [w for w in store.writes[writes:] if w[1] == "Service"] == []


class _ConflictOnce(MemStore):
    """Another writer changes the Knative Service right after our next read of it (a 409 for us)."""

    armed = False

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        obj = super().get(kind, namespace, name)
        if self.armed and kind == KNATIVE_SERVICE:
            self.armed = False
            other = super().get(kind, namespace, name)
            other["metadata"].setdefault("labels", {})["touched-by"] = "someone-else"
            super().update(kind, other)
        return obj


def test_a_409_is_re_read_and_retried(clock: FakeClock) -> None:
    store = _ConflictOnce()
    store.create(INFERENCE_SERVICE, sklearn("iris"))
    r = reconciler(store, clock)
    r.reconcile(NS, "iris")
    obj = store.get(INFERENCE_SERVICE, NS, "iris")
    obj["spec"]["predictor"]["minReplicas"] = 0
    store.update(INFERENCE_SERVICE, obj)
    store.armed = True
    r.reconcile(NS, "iris")
    ksvc = store.get(KNATIVE_SERVICE, NS, "iris-predictor")
    assert ksvc["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "0"
    assert ksvc["metadata"]["labels"]["touched-by"] == "someone-else", "the other writer's change survives"


def test_a_status_409_is_retried_on_the_fresh_version(store: MemStore, clock: FakeClock) -> None:
    from zeroserve.controller.reconcilers.apply import write_status

    store.create(INFERENCE_SERVICE, sklearn("iris"))
    stale = store.get(INFERENCE_SERVICE, NS, "iris")
    fresh = store.get(INFERENCE_SERVICE, NS, "iris")
    fresh["metadata"]["labels"] = {"x": "y"}
    store.update(INFERENCE_SERVICE, fresh)
    write_status(store, INFERENCE_SERVICE, stale, {"observedGeneration": 1})
    assert store.get(INFERENCE_SERVICE, NS, "iris")["status"] == {"observedGeneration": 1}


@pytest.mark.parametrize(
    ("desired", "current", "subset"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 2}]}, True),
        ({"a": [{"x": 1}]}, {"a": [{"x": 1}, {"x": 2}]}, False),
        ({"a": {}}, {}, False),
    ],
)
def test_is_subset(desired: Any, current: Any, subset: bool) -> None:
    assert is_subset(desired, current) is subset


def test_a_persistent_conflict_surfaces_for_the_loop_to_retry(clock: FakeClock) -> None:
    class AlwaysConflict(MemStore):
        def update(self, kind: Kind, obj: Obj) -> Obj:
            if kind == KNATIVE_SERVICE:
                raise Conflict("modified", 409)
            return super().update(kind, obj)

    store = AlwaysConflict()
    store.create(INFERENCE_SERVICE, sklearn("iris"))
    r = reconciler(store, clock)
    r.reconcile(NS, "iris")
    obj = store.get(INFERENCE_SERVICE, NS, "iris")
    obj["spec"]["predictor"]["minReplicas"] = 0
    store.update(INFERENCE_SERVICE, obj)
    with pytest.raises(Conflict):
        r.reconcile(NS, "iris")


# -- InferenceGraph ------------------------------------------------------------------------------------


def graph(name: str, *services: str) -> dict[str, Any]:
    steps = [{"name": s, "serviceName": s} for s in services]
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"nodes": {"root": {"routerType": "Sequence", "steps": steps}}},
    }


def test_graph_waits_for_its_services_then_runs_the_router(store: MemStore, clock: FakeClock) -> None:
    recorder = EventRecorder(store, clock=clock.now)
    graphs = InferenceGraphReconciler(store, ControllerConfig(), recorder, clock.now)
    services, sim = reconciler(store, clock), KnativeSim(store)
    store.create(INFERENCE_GRAPH, graph("pipeline", "first", "second"))
    store.create(INFERENCE_SERVICE, sklearn("first"))

    result = graphs.reconcile(NS, "pipeline")
    assert result.requeue_after == WAIT_REQUEUE_SECONDS
    waiting = condition(store.get(INFERENCE_GRAPH, NS, "pipeline"), "ServicesReady")
    assert waiting["status"] == "Unknown"
    assert "first" in waiting["message"] and "second (not found)" in waiting["message"]
    assert [k["metadata"]["name"] for k in store.list(KNATIVE_SERVICE).items] == []

    store.create(INFERENCE_SERVICE, sklearn("second"))
    for _ in range(3):
        for name in ("first", "second"):
            services.reconcile(NS, name)
        sim.sync()
    assert graphs.reconcile(NS, "pipeline").requeue_after is None
    router = store.get(KNATIVE_SERVICE, NS, "pipeline")
    args = router["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["router", "--graph-json"]
    assert "http://first.default.svc.cluster.local/v1/models/first:predict" in args[2]
    sim.sync()
    graphs.reconcile(NS, "pipeline")
    stored = store.get(INFERENCE_GRAPH, NS, "pipeline")
    assert condition(stored, "Ready")["status"] == "True"
    assert stored["status"]["url"] == "http://pipeline.default.example.com"


def test_invalid_graph_reports_every_error(store: MemStore, clock: FakeClock) -> None:
    bad = graph("bad", "a")
    bad["spec"]["nodes"]["other"] = bad["spec"]["nodes"].pop("root")
    bad["spec"]["nodes"]["split"] = {"routerType": "Splitter", "steps": [{"serviceName": "a", "weight": 30}]}
    store.create(INFERENCE_GRAPH, bad)
    InferenceGraphReconciler(store, ControllerConfig(), EventRecorder(store), clock.now).reconcile(NS, "bad")
    ready = condition(store.get(INFERENCE_GRAPH, NS, "bad"), "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "root" in ready["message"] and "100" in ready["message"]


def test_steady_state_with_warnings_writes_nothing_either(store: MemStore, clock: FakeClock) -> None:
    obj = sklearn("warned", deploymentStrategy={"type": "Recreate"})
    # an explainer format no built-in serves: BuildError (deploymentStrategy is the ignored field)
    obj["spec"]["explainer"] = {"model": {"modelFormat": {"name": "lime"}}}
    store.create(INFERENCE_SERVICE, obj)
    r, sim = reconciler(store, clock), KnativeSim(store)
    for _ in range(3):
        r.reconcile(NS, "warned")
        sim.sync()
    stored = store.get(INFERENCE_SERVICE, NS, "warned")
    assert condition(stored, "ExplainerReady")["status"] == "False"
    warnings = [reason for type_, reason, _ in events(store) if type_ == "Warning"]
    assert sorted(warnings) == ["IgnoredFields", "InvalidExplainerSpec"], "each warning recorded once"
    writes = len(store.writes)
    clock.advance(30)
    r.reconcile(NS, "warned")
    assert store.writes[writes:] == [], "a reconcile that changes nothing writes nothing, Events included"
