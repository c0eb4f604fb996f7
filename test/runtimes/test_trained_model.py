"""The TrainedModel reconciler over an in-memory API: KServe's conditions, URLs and the model config."""

from __future__ import annotations

import json
from typing import Any

import pytest
from controller.memstore import MemStore

from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.events import EventRecorder
from zeroserve.controller.kinds import CONFIG_MAP, INFERENCE_SERVICE, TRAINED_MODEL
from zeroserve.controller.reconcilers.trained_model import TrainedModelReconciler

READY = {"type": "Ready", "status": "True"}


def _isvc(name: str, model: dict[str, Any], ready: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"predictor": {"model": model}},
        "status": {
            "conditions": [READY if ready else {"type": "Ready", "status": "False"}],
            "url": f"http://{name}.default.example.com",
            "address": {"url": f"http://{name}.default.svc.cluster.local"},
            "clusterServingRuntimeName": "kserve-sklearnserver",
        },
    }


def _tm(name: str, isvc: str, memory: str, framework: str = "sklearn") -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "TrainedModel",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "inferenceService": isvc,
            "model": {"storageUri": f"file:///models/{name}", "framework": framework, "memory": memory},
        },
    }


@pytest.fixture
def world() -> tuple[MemStore, TrainedModelReconciler]:
    store = MemStore()
    mms = {"modelFormat": {"name": "sklearn"}, "resources": {"limits": {"memory": "1Gi"}}}
    store.create(INFERENCE_SERVICE, _isvc("mms", mms))
    store.create(
        INFERENCE_SERVICE, _isvc("single", {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://m"})
    )
    store.create(INFERENCE_SERVICE, _isvc("starting", {"modelFormat": {"name": "sklearn"}}, ready=False))
    for tm in (
        _tm("a", "mms", "512Mi"),
        _tm("b", "mms", "512Mi"),
        _tm("c", "mms", "256Mi"),
        _tm("wrong", "mms", "1Mi", framework="tensorflow"),
        _tm("lonely", "single", "1Mi"),
        _tm("early", "starting", "1Mi"),
        _tm("orphan", "nope", "1Mi"),
    ):
        store.create(TRAINED_MODEL, tm)
    reconciler = TrainedModelReconciler(store, ControllerConfig(version="t"), EventRecorder(store))
    return store, reconciler


def _conditions(store: MemStore, name: str) -> dict[str, dict[str, Any]]:
    status = store.get(TRAINED_MODEL, "default", name).get("status") or {}
    return {c["type"]: c for c in status.get("conditions") or []}


@pytest.mark.parametrize(
    ("name", "failed", "reason", "fragment"),
    [
        ("a", None, None, None),
        ("b", None, None, None),
        ("c", "MemoryResourceAvailable", "MemoryResourceNotAvailable", "spec.model.memory"),
        ("wrong", "FrameworkSupported", "FrameworkNotSupported", "spec.model.framework"),
        ("lonely", "IsMMSPredictor", "NotMMSPredictor", "serves its own storageUri"),
        ("early", "InferenceServiceReady", "InferenceServiceNotReady", "needs to be ready"),
        ("orphan", "InferenceServiceReady", "InferenceServiceNotFound", "'nope' not found"),
    ],
)
def test_conditions_as_kserve(
    world: tuple[MemStore, TrainedModelReconciler],
    name: str,
    failed: str | None,
    reason: str | None,
    fragment: str | None,
) -> None:
    store, reconciler = world
    for tm in ("a", "b", "c", "wrong", "lonely", "early", "orphan"):
        reconciler.reconcile("default", tm)
    conditions = _conditions(store, name)
    if failed is None:
        assert conditions["Ready"]["status"] == "True", conditions
        status = store.get(TRAINED_MODEL, "default", name)["status"]
        assert status["url"] == f"http://mms.default.example.com/v1/models/{name}:predict"
        assert status["address"]["url"] == f"http://mms.default.svc.cluster.local/v1/models/{name}:predict"
        return
    assert conditions[failed]["status"] == "False"
    assert conditions[failed]["reason"] == reason
    assert fragment is not None and fragment in conditions[failed]["message"]
    assert conditions["Ready"]["status"] == "False"


def test_model_config_lists_the_models_that_fit_and_follows_deletes(
    world: tuple[MemStore, TrainedModelReconciler],
) -> None:
    store, reconciler = world
    for tm in ("a", "b", "c", "wrong"):
        reconciler.reconcile("default", tm)
    config = store.get(CONFIG_MAP, "default", "modelconfig-mms-0")
    entries = json.loads(config["data"]["models.json"])
    assert [e["modelName"] for e in entries] == ["a", "b"]
    assert entries[0]["modelSpec"] == {
        "storageUri": "file:///models/a",
        "framework": "sklearn",
        "memory": "512Mi",
    }
    assert config["metadata"]["ownerReferences"][0]["name"] == "mms"
    store.delete(TRAINED_MODEL, "default", "a")
    reconciler.reconcile("default", "a")
    entries = json.loads(store.get(CONFIG_MAP, "default", "modelconfig-mms-0")["data"]["models.json"])
    assert [e["modelName"] for e in entries] == ["b"]
    reconciler.reconcile("default", "c")  # with a gone, c fits now
    assert _conditions(store, "c")["Ready"]["status"] == "True"


def test_a_multi_model_predictor_mounts_its_model_config() -> None:
    from zeroserve.apis.serving.v1beta1 import InferenceService
    from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
    from zeroserve.controller.config.cluster_runtimes import builtin_cluster_runtimes
    from zeroserve.controller.config.runtime_source import candidates_from_objects
    from zeroserve.controller.resources.knative_service import build_component_service

    raw = _isvc("mms", {"modelFormat": {"name": "sklearn"}, "resources": {"limits": {"memory": "1Gi"}}})
    raw["metadata"]["uid"] = "u1"
    isvc = default_inference_service(InferenceService.from_dict(raw))
    runtime = candidates_from_objects("ClusterServingRuntime", builtin_cluster_runtimes("t"))[0]
    pod = build_component_service(isvc, "predictor", ControllerConfig(version="t"), runtime)["spec"][
        "template"
    ]["spec"]
    main = pod["containers"][0]
    assert main["args"][-3:] == [
        "--model_config_file=/mnt/configs/models.json",
        "--models_dir=/mnt/models",
        f"--memory_budget={1024**3}",
    ]
    assert {"name": "model-config", "mountPath": "/mnt/configs", "readOnly": True} in main["volumeMounts"]
    assert {"name": "model-config", "configMap": {"name": "modelconfig-mms-0", "optional": True}} in pod[
        "volumes"
    ]
    assert not pod.get("initContainers")  # no storageUri: no storage-initializer


@pytest.mark.parametrize(
    ("runtime", "expected", "serve"),
    [
        ("zeroserve-sklearn", "kserve-sklearnserver", "sklearn"),
        ("kserve-sklearnserver", "kserve-sklearnserver", "sklearn"),
    ],
)
def test_the_reconciler_records_the_runtime_and_accepts_the_earlier_table_names(
    runtime: str, expected: str, serve: str
) -> None:
    from zeroserve.controller.kinds import KNATIVE_SERVICE
    from zeroserve.controller.reconcilers import InferenceServiceReconciler

    store = MemStore()
    isvc = _isvc("iris", {"modelFormat": {"name": "sklearn"}, "runtime": runtime, "storageUri": "gs://b/m"})
    del isvc["status"]
    store.create(INFERENCE_SERVICE, isvc)
    InferenceServiceReconciler(store, ControllerConfig(version="t"), EventRecorder(store)).reconcile(
        "default", "iris"
    )
    status = store.get(INFERENCE_SERVICE, "default", "iris")["status"]
    assert status["clusterServingRuntimeName"] == expected
    ksvc = store.get(KNATIVE_SERVICE, "default", "iris-predictor")
    assert ksvc["spec"]["template"]["spec"]["containers"][0]["args"][:2] == ["serve", serve]
