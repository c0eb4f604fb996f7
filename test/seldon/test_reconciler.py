"""The SeldonDeployment reconciler over an in-memory API server (``test/controller/memstore.py``)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from controller.memstore import MemStore

from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.events import EventRecorder
from zeroserve.controller.kinds import EVENT, HTTP_ROUTE, KNATIVE_SERVICE, SELDON_DEPLOYMENT
from zeroserve.controller.reconcilers import SeldonDeploymentReconciler

SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples" / "seldon"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _sample(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((SAMPLES / f"{name}.yaml").read_text())
    doc["metadata"]["namespace"] = "default"
    return doc


def _reconciler(store: MemStore) -> SeldonDeploymentReconciler:
    return SeldonDeploymentReconciler(
        store, ControllerConfig(), EventRecorder(store, clock=lambda: NOW), lambda: NOW
    )


def _ready(store: MemStore, name: str) -> None:
    store.force_status(
        KNATIVE_SERVICE,
        "default",
        name,
        {"conditions": [{"type": "Ready", "status": "True"}], "url": f"http://{name}.default.example.com"},
    )


def test_children_then_available_then_pruned() -> None:
    store = MemStore()
    store.create(SELDON_DEPLOYMENT, _sample("router"))
    reconciler = _reconciler(store)
    reconciler.reconcile("default", "seldon-router")
    services = {s["metadata"]["name"] for s in store.list(KNATIVE_SERVICE, "default").items}
    assert services == {
        "seldon-router-default",
        "seldon-router-default-picker",
        "seldon-router-default-doubler",
        "seldon-router-default-adder",
    }
    uid = store.get(SELDON_DEPLOYMENT, "default", "seldon-router")["metadata"]["uid"]
    route = store.get(HTTP_ROUTE, "default", "seldon-router")
    assert route["metadata"]["ownerReferences"][0]["uid"] == uid
    status = store.get(SELDON_DEPLOYMENT, "default", "seldon-router")["status"]
    assert status["state"] == "Creating"

    for name in services:
        _ready(store, name)
    reconciler.reconcile("default", "seldon-router")
    status = store.get(SELDON_DEPLOYMENT, "default", "seldon-router")["status"]
    assert status["state"] == "Available"
    assert status["address"]["url"] == "http://seldon-router.default.svc.cluster.local/api/v1.0/predictions"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"

    # one child fewer: its Knative Service goes
    stored = store.get(SELDON_DEPLOYMENT, "default", "seldon-router")
    changed = copy.deepcopy(stored)
    changed["spec"]["predictors"][0]["graph"]["children"].pop()
    store.update(SELDON_DEPLOYMENT, changed)
    reconciler.reconcile("default", "seldon-router")
    services = {s["metadata"]["name"] for s in store.list(KNATIVE_SERVICE, "default").items}
    assert "seldon-router-default-adder" not in services


def test_an_invalid_deployment_fails_with_one_readable_line() -> None:
    store = MemStore()
    bad = _sample("canary")
    bad["spec"]["predictors"][1]["traffic"] = 5  # stored without admission, as an old object could be
    store.create(SELDON_DEPLOYMENT, bad)
    _reconciler(store).reconcile("default", "seldon-canary")
    status = store.get(SELDON_DEPLOYMENT, "default", "seldon-canary")["status"]
    assert status["state"] == "Failed"
    assert status["description"] == (
        "spec.predictors: traffic of the non-shadow predictors must sum to 100, got 80 (main=75, canary=5)"
    )
    assert store.list(KNATIVE_SERVICE, "default").items == []
    events = [e for e in store.list(EVENT, "default").items if e.get("reason") == "InvalidSpec"]
    assert events and events[0]["type"] == "Warning"


def test_a_failed_component_fails_the_deployment() -> None:
    store = MemStore()
    store.create(SELDON_DEPLOYMENT, _sample("model"))
    reconciler = _reconciler(store)
    reconciler.reconcile("default", "seldon-model")
    _ready(store, "seldon-model-default")
    store.force_status(
        KNATIVE_SERVICE,
        "default",
        "seldon-model-default-doubler",
        {"conditions": [{"type": "Ready", "status": "False", "message": "image cannot run locally"}]},
    )
    reconciler.reconcile("default", "seldon-model")
    status = store.get(SELDON_DEPLOYMENT, "default", "seldon-model")["status"]
    assert status["state"] == "Failed"
    assert status["description"] == "seldon-model-default-doubler: image cannot run locally"


def test_the_controller_role_covers_seldon_deployments() -> None:
    role = yaml.safe_load((SAMPLES.parents[1] / "rbac" / "cluster_role.yaml").read_text())
    granted: dict[str, set[str]] = {}
    for rule in role["rules"]:
        if SELDON_DEPLOYMENT.group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault(resource, set()).update(rule["verbs"])
    assert {"get", "list", "watch"} <= granted["seldondeployments"]
    assert {"update"} <= granted["seldondeployments/status"]
