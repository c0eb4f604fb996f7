"""The canary state machine, driven through the reconciler against an API-server-like store.

deploy v1 -> change the model with canaryTrafficPercent 10 -> traffic 90/10 and status -> promote
(remove the field) -> pin back with 0 -> status and traffic right at each step. Knative's side
(revisions, traffic resolution) is played by :class:`KnativeSim`.
"""

from __future__ import annotations

import json
from typing import Any

from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.events import EventRecorder
from zeroserve.controller.kinds import EVENT, HTTP_ROUTE, INFERENCE_SERVICE, KNATIVE_SERVICE
from zeroserve.controller.reconcilers import InferenceServiceReconciler

from .conftest import FakeClock
from .knative_sim import KnativeSim
from .memstore import MemStore

NS, NAME, KSVC = "default", "sklearn-canary", "sklearn-canary-predictor"
REV1, REV2 = f"{KSVC}-00001", f"{KSVC}-00002"


def isvc(uri: str, canary: int | None = None) -> dict[str, Any]:
    predictor: dict[str, Any] = {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": uri}}
    if canary is not None:
        predictor["canaryTrafficPercent"] = canary
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {"predictor": predictor},
    }


class World:
    """The store, Knative, and our reconciler; :meth:`settle` runs them until nothing changes."""

    def __init__(self, store: MemStore, clock: FakeClock) -> None:
        self.store = store
        self.knative = KnativeSim(store)
        recorder = EventRecorder(store, clock=clock.now)
        self.reconciler = InferenceServiceReconciler(store, ControllerConfig(), recorder, clock.now)

    def settle(self, max_rounds: int = 10) -> int:
        """Reconcile and let Knative react until a fixed point; returns the rounds it took."""
        for rounds in range(1, max_rounds + 1):
            before = len(self.store.writes)
            self.reconciler.reconcile(NS, NAME)
            self.knative.sync()
            if len(self.store.writes) == before:
                return rounds
        raise AssertionError(f"no fixed point after {max_rounds} rounds: {self.store.writes[-10:]}")

    def apply(self, obj: dict[str, Any]) -> None:
        try:
            current = self.store.get(INFERENCE_SERVICE, NS, NAME)
        except Exception:
            self.store.create(INFERENCE_SERVICE, obj)
            return
        current["spec"] = obj["spec"]
        self.store.update(INFERENCE_SERVICE, current)

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.store.get(INFERENCE_SERVICE, NS, NAME)["status"]
        return status

    def predictor(self) -> dict[str, Any]:
        predictor: dict[str, Any] = self.status()["components"]["predictor"]
        return predictor

    def spec_traffic(self) -> list[dict[str, Any]]:
        traffic: list[dict[str, Any]] = self.store.get(KNATIVE_SERVICE, NS, KSVC)["spec"]["traffic"]
        return traffic

    def columns(self) -> dict[str, Any]:
        """``kubectl get isvc``'s Prev / Latest / PrevRolledoutRevision / LatestReadyRevision columns."""
        traffic = self.predictor().get("traffic") or []
        prev = [t for t in traffic if t.get("tag") == "prev"]
        latest = [t for t in traffic if t.get("latestRevision")]
        return {
            "Prev": prev[0]["percent"] if prev else None,
            "Latest": latest[0]["percent"] if latest else None,
            "PrevRolledoutRevision": prev[0]["revisionName"] if prev else None,
            "LatestReadyRevision": latest[0]["revisionName"] if latest else None,
        }

    def ready(self) -> str:
        return next(c["status"] for c in self.status()["conditions"] if c["type"] == "Ready")


def test_deploy_canary_promote_and_pin_back(store: MemStore, clock: FakeClock) -> None:
    world = World(store, clock)

    # 1. deploy v1: one revision, all traffic, rolled out
    world.apply(isvc("gs://models/sklearn/1"))
    world.settle()
    assert world.spec_traffic() == [{"latestRevision": True, "percent": 100}]
    assert world.predictor()["latestRolledoutRevision"] == REV1
    assert "previousRolledoutRevision" not in world.predictor()
    assert world.ready() == "True"
    assert world.status()["url"] == f"http://{NAME}.{NS}.example.com"
    assert world.status()["address"]["url"] == f"http://{NAME}.{NS}.svc.cluster.local"
    assert store.get(HTTP_ROUTE, NS, NAME)["spec"]["rules"][0]["backendRefs"][0]["name"] == KSVC

    # 2. new model with canaryTrafficPercent 10: 10% to the new revision, 90% to v1 tagged prev
    world.apply(isvc("gs://models/sklearn/2", canary=10))
    world.settle()
    assert world.spec_traffic() == [
        {"latestRevision": True, "percent": 10},
        {"tag": "prev", "revisionName": REV1, "latestRevision": False, "percent": 90},
    ]
    assert world.columns() == {
        "Prev": 90,
        "Latest": 10,
        "PrevRolledoutRevision": REV1,
        "LatestReadyRevision": REV2,
    }
    assert world.predictor()["latestReadyRevision"] == REV2
    assert world.predictor()["latestRolledoutRevision"] == REV1, "a canary is not rolled out"
    assert world.ready() == "True"

    # 3. promote: remove the field; the new revision takes everything and becomes the rolled-out one
    world.apply(isvc("gs://models/sklearn/2"))
    world.settle()
    assert world.spec_traffic() == [{"latestRevision": True, "percent": 100}]
    assert world.predictor()["latestRolledoutRevision"] == REV2
    assert world.predictor()["previousRolledoutRevision"] == REV1
    assert world.columns()["Latest"] == 100 and world.columns()["Prev"] is None

    # 4. pin back with 0: all traffic returns to v1 (KServe converges in two reconciles)
    world.apply(isvc("gs://models/sklearn/2", canary=0))
    world.settle()
    assert world.spec_traffic() == [
        {"latestRevision": True, "percent": 0},
        {"tag": "prev", "revisionName": REV1, "latestRevision": False, "percent": 100},
    ]
    assert world.predictor()["latestRolledoutRevision"] == REV1
    assert world.columns() == {
        "Prev": 100,
        "Latest": 0,
        "PrevRolledoutRevision": REV1,
        "LatestReadyRevision": REV2,
    }
    assert world.knative.revisions(NS, KSVC) == [REV1, REV2], "pinning must not create a revision"


def test_canary_of_a_failing_revision_keeps_traffic_on_the_rolled_out_one(
    store: MemStore, clock: FakeClock
) -> None:
    world = World(store, clock)
    world.apply(isvc("gs://models/sklearn/1"))
    world.settle()
    world.knative.failing.add(REV2)
    world.apply(isvc("gs://models/broken", canary=10))
    world.settle()
    # Knative routes latestRevision to the latest *ready* revision: v1 still answers everything
    assert world.predictor()["latestRolledoutRevision"] == REV1
    assert world.predictor()["latestCreatedRevision"] == REV2
    assert world.predictor()["latestReadyRevision"] == REV1


def test_tag_routing_tags_latest(store: MemStore, clock: FakeClock) -> None:
    world = World(store, clock)
    obj = isvc("gs://models/sklearn/1")
    obj["metadata"]["annotations"] = {"serving.kserve.io/enable-tag-routing": "true"}
    world.apply(obj)
    world.settle()
    obj["spec"] = isvc("gs://models/sklearn/2", canary=20)["spec"]
    world.apply(obj)
    world.settle()
    traffic = world.predictor()["traffic"]
    assert {t["tag"]: t["url"] for t in traffic} == {
        "latest": f"http://latest-{KSVC}.{NS}.example.com",
        "prev": f"http://prev-{KSVC}.{NS}.example.com",
    }


def test_rollouts_are_reported_as_events(store: MemStore, clock: FakeClock) -> None:
    world = World(store, clock)
    world.apply(isvc("gs://models/sklearn/1"))
    world.settle()
    reasons = [e["reason"] for e in store.list(EVENT, NS).items]
    assert "Created" in reasons and "RolledOut" in reasons and "InferenceServiceReady" in reasons


def test_abn_split_pins_three_revisions_without_a_new_one(store: MemStore, clock: FakeClock) -> None:
    world = World(store, clock)
    world.apply(isvc("gs://models/sklearn/1"))
    world.settle()
    world.apply(isvc("gs://models/sklearn/2"))
    world.settle()
    world.apply(isvc("gs://models/sklearn/3"))
    world.settle()
    rev3 = f"{KSVC}-00003"
    obj = store.get(INFERENCE_SERVICE, NS, NAME)
    obj["metadata"]["annotations"] = {
        "serving.zeroserve.io/traffic": json.dumps(
            {
                "predictor": [
                    {"revisionName": REV1, "percent": 20, "tag": "a"},
                    {"revisionName": REV2, "percent": 30, "tag": "b"},
                    {"latestRevision": True, "percent": 50, "tag": "c"},
                ]
            }
        )
    }
    store.update(INFERENCE_SERVICE, obj)
    world.settle()
    assert world.knative.revisions(NS, KSVC) == [REV1, REV2, rev3], "a traffic change stamps no revision"
    shares = {t["revisionName"]: t["percent"] for t in world.predictor()["traffic"]}
    assert shares == {REV1: 20, REV2: 30, rev3: 50}
