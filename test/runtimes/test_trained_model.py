"""The TrainedModel reconciler over an in-memory API: KServe's conditions, URLs and the model config,
and ``ModelLoaded`` read from a real multi-model server (its model config file written by the test,
in the kubelet's place)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from controller.memstore import MemStore
from support.waiting import WaitTimeout, wait_until, wait_until_async

from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.events import EventRecorder
from zeroserve.controller.kinds import (
    CONFIG_MAP,
    EVENT,
    INFERENCE_SERVICE,
    KNATIVE_SERVICE,
    REVISION,
    TRAINED_MODEL,
)
from zeroserve.controller.reconcilers.trained_model import POLL_S, TrainedModelReconciler
from zeroserve.controller.reconcilers.trained_model_state import ModelStateReader
from zeroserve.servers.testing import train_iris_sklearn

READY = {"type": "Ready", "status": "True"}
MiB = 1024**2


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


def _tm(name: str, isvc: str, memory: str, framework: str = "sklearn", uri: str = "") -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "TrainedModel",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "inferenceService": isvc,
            "model": {
                "storageUri": uri or f"file:///models/{name}",
                "framework": framework,
                "memory": memory,
            },
        },
    }


class MmsServer:
    """A real model server following a model config file, with a 300 MiB budget, in a thread."""

    def __init__(self, folder: Path) -> None:
        self.config = folder / "configs" / "models.json"
        self.config.parent.mkdir(parents=True)
        self.url = ""
        self._folder = folder

    @contextlib.contextmanager
    def running(self) -> Iterator[MmsServer]:
        from zeroserve.servers.model_server import ModelServer
        from zeroserve.servers.runtimes import RuntimeRegistry
        from zeroserve.servers.settings import ServerSettings

        registry = RuntimeRegistry.builtin()
        settings = ServerSettings(
            http_port=0,
            grpc_port=-1,
            host="127.0.0.1",
            models_dir=self._folder / "models",
            model_config_file=self.config,
            memory_budget=300 * MiB,
            enable_model_repository=True,  # the test reads the index to know the config is applied
            configure_logging=False,
        )
        server = ModelServer(
            settings, model_factory=lambda name, folder: registry.create("sklearn", name, folder)
        )
        started, state = threading.Event(), {}

        async def run() -> None:
            stop = state["stop"] = asyncio.Event()
            state["loop"] = asyncio.get_running_loop()
            async with server.running([]) as handle:
                self.url = handle.url
                started.set()
                await stop.wait()

        thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
        thread.start()
        assert started.wait(30), "the model server did not start"
        try:
            yield self
        finally:
            state["loop"].call_soon_threadsafe(state["stop"].set)
            thread.join(30)

    def project(self, store: MemStore, isvc: str = "mms") -> None:
        """Write the ConfigMap's models.json where the server reads it (the kubelet's part) and wait
        until the server has a final state for each model it lists."""
        text = store.get(CONFIG_MAP, "default", f"modelconfig-{isvc}-0")["data"]["models.json"]
        names = {e["modelName"] for e in json.loads(text)}
        before = (
            {e["modelName"] for e in json.loads(self.config.read_text())} if self.config.exists() else set()
        )
        self.config.write_text(text)

        def applied() -> bool:
            index = httpx.post(f"{self.url}/v2/repository/index", json={}, trust_env=False)
            states = {e["name"]: e["state"] for e in index.json()} if index.status_code == 200 else {}
            removed = all(states.get(n) != "READY" for n in before - names)
            return removed and all(states.get(n) in ("READY", "UNAVAILABLE") for n in names)

        wait_until(applied, 30, interval=0.05, what="the model config applied")


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(train_iris_sklearn(tmp_path_factory.mktemp("iris")))


@pytest.fixture(scope="module")
def mms_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MmsServer]:
    with MmsServer(tmp_path_factory.mktemp("mms")).running() as server:
        yield server


def _predictor(store: MemStore, url: str, replicas: int | None = None) -> None:
    ksvc = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "mms-predictor", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"image": "x"}]}}},
    }
    created = store.create(KNATIVE_SERVICE, ksvc)
    created["status"] = {"address": {"url": url}, "latestReadyRevisionName": "mms-predictor-00001"}
    store.update_status(KNATIVE_SERVICE, created)
    revision = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {"name": "mms-predictor-00001", "namespace": "default"},
        "spec": {"containers": [{"image": "x"}]},
    }
    created = store.create(REVISION, revision)
    if replicas is not None:
        created["status"] = {"actualReplicas": replicas}
        store.update_status(REVISION, created)


@pytest.fixture
def world(mms_server: MmsServer, iris: Path) -> Iterator[tuple[MemStore, TrainedModelReconciler]]:
    store = MemStore()
    mms = {"modelFormat": {"name": "sklearn"}, "resources": {"limits": {"memory": "1Gi"}}}
    store.create(INFERENCE_SERVICE, _isvc("mms", mms))
    store.create(
        INFERENCE_SERVICE, _isvc("single", {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://m"})
    )
    store.create(INFERENCE_SERVICE, _isvc("starting", {"modelFormat": {"name": "sklearn"}}, ready=False))
    _predictor(store, mms_server.url)
    for tm in (
        _tm("a", "mms", "100Mi", uri=f"file://{iris}"),
        _tm("b", "mms", "100Mi", uri=f"file://{iris}"),
        _tm("c", "mms", "2Gi"),
        _tm("wrong", "mms", "1Mi", framework="tensorflow"),
        _tm("lonely", "single", "1Mi"),
        _tm("early", "starting", "1Mi"),
        _tm("orphan", "nope", "1Mi"),
    ):
        store.create(TRAINED_MODEL, tm)
    states = ModelStateReader()
    reconciler = TrainedModelReconciler(
        store, ControllerConfig(version="t"), EventRecorder(store), model_states=states
    )
    yield store, reconciler
    states.close()


def _conditions(store: MemStore, name: str) -> dict[str, dict[str, Any]]:
    status = store.get(TRAINED_MODEL, "default", name).get("status") or {}
    return {c["type"]: c for c in status.get("conditions") or []}


@pytest.mark.parametrize(
    ("name", "failed", "reason", "fragment"),
    [
        ("a", None, None, None),
        ("b", None, None, None),
        ("c", "MemoryResourceAvailable", "MemoryResourceNotAvailable", "spec.model.memory: 2Gi"),
        ("wrong", "FrameworkSupported", "FrameworkNotSupported", "spec.model.framework"),
        ("lonely", "IsMMSPredictor", "IsNotMMSPredictor", "use a predictor model without storageUri"),
        ("early", "InferenceServiceReady", "InferenceServiceNotReady", "needs to be ready"),
        ("orphan", "InferenceServiceReady", "InferenceServiceNotFound", "'nope' not found"),
    ],
)
def test_conditions_as_kserve(
    world: tuple[MemStore, TrainedModelReconciler],
    mms_server: MmsServer,
    name: str,
    failed: str | None,
    reason: str | None,
    fragment: str | None,
) -> None:
    store, reconciler = world
    everything = ("a", "b", "c", "wrong", "lonely", "early", "orphan")
    for tm in everything:
        reconciler.reconcile("default", tm)
    mms_server.project(store)  # the server loads a and b; the others are not in its config
    for tm in everything:
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
    assert conditions["Ready"]["reason"] == reason  # not taken over by ModelLoaded
    assert conditions["ModelLoaded"]["status"] == "Unknown"


def test_model_config_lists_the_models_that_fit_and_follows_deletes(
    world: tuple[MemStore, TrainedModelReconciler],
) -> None:
    store, reconciler = world
    for tm in ("a", "b", "c", "wrong"):
        reconciler.reconcile("default", tm)
    config = store.get(CONFIG_MAP, "default", "modelconfig-mms-0")
    entries = json.loads(config["data"]["models.json"])
    assert [e["modelName"] for e in entries] == ["a", "b"]
    assert entries[0]["modelSpec"]["framework"] == "sklearn"
    assert entries[0]["modelSpec"]["memory"] == "100Mi"
    assert config["metadata"]["ownerReferences"][0]["name"] == "mms"
    assert reconciler.reconcile("default", "a").also == ()  # nothing changed: nobody woken
    store.delete(TRAINED_MODEL, "default", "a")
    result = reconciler.reconcile("default", "a")
    entries = json.loads(store.get(CONFIG_MAP, "default", "modelconfig-mms-0")["data"]["models.json"])
    assert [e["modelName"] for e in entries] == ["b"]
    # the config changed: the siblings are woken to read what the server did
    assert ("TrainedModel", "default", "b") in result.also


def _settle(store: MemStore, reconciler: TrainedModelReconciler, server: MmsServer, *names: str) -> None:
    for name in names:
        reconciler.reconcile("default", name)
    server.project(store)
    for name in names:
        reconciler.reconcile("default", name)


def test_model_loaded_shows_the_servers_lru_unload_and_reload(
    world: tuple[MemStore, TrainedModelReconciler], mms_server: MmsServer, iris: Path
) -> None:
    """Budget 300 MiB: a and b (100 MiB each) load; a is used; d (150 MiB) makes the server unload
    b, the least recently used; deleting a leaves room and b loads again."""
    store, reconciler = world
    _settle(store, reconciler, mms_server, "a", "b")
    assert [_conditions(store, n)["ModelLoaded"]["status"] for n in ("a", "b")] == ["True", "True"]
    used = httpx.post(
        f"{mms_server.url}/v1/models/a:predict", json={"instances": [[6.8, 2.8, 4.8, 1.4]]}, trust_env=False
    )
    assert used.status_code == 200, used.text
    store.create(TRAINED_MODEL, _tm("d", "mms", "150Mi", uri=f"file://{iris}"))
    woken = reconciler.reconcile("default", "d")
    assert {k[2] for k in woken.also} == {"a", "b"} and woken.requeue_after == POLL_S
    pending = _conditions(store, "d")["ModelLoaded"]  # asked before the server read the new config
    assert (pending["status"], pending["reason"]) == ("Unknown", "ModelConfigPending")
    assert _conditions(store, "d")["Ready"]["status"] == "Unknown"
    mms_server.project(store)
    for name in ("a", "b", "d"):
        reconciler.reconcile("default", name)
    b = _conditions(store, "b")
    assert b["ModelLoaded"]["status"] == "False" and b["ModelLoaded"]["reason"] == "UnloadedLeastRecentlyUsed"
    assert (
        "loading d (157286400 bytes) exceeded the memory budget of 314572800 bytes"
        in b["ModelLoaded"]["message"]
    )
    assert b["Ready"]["status"] == "False" and b["Ready"]["reason"] == "UnloadedLeastRecentlyUsed"
    assert all(_conditions(store, n)["Ready"]["status"] == "True" for n in ("a", "d"))
    events = [e for e in store.list(EVENT, "default").items if e["involvedObject"]["name"] == "b"]
    assert any(e["reason"] == "UnloadedLeastRecentlyUsed" and e["type"] == "Warning" for e in events)
    refused = httpx.post(
        f"{mms_server.url}/v1/models/b:predict", json={"instances": [[6.8, 2.8, 4.8, 1.4]]}, trust_env=False
    )
    assert refused.status_code == 404
    assert refused.json()["reason_code"] == "UnloadedLeastRecentlyUsed"
    assert refused.json()["error"].startswith(
        "Model with name b is not loaded: unloaded as least recently used"
    )
    store.delete(TRAINED_MODEL, "default", "a")
    assert ("TrainedModel", "default", "b") in reconciler.reconcile("default", "a").also
    mms_server.project(store)
    reconciler.reconcile("default", "b")
    assert _conditions(store, "b")["Ready"]["status"] == "True"


def test_model_loaded_says_when_the_server_cannot_load_the_model(
    world: tuple[MemStore, TrainedModelReconciler], mms_server: MmsServer, iris: Path
) -> None:
    store, reconciler = world
    store.create(TRAINED_MODEL, _tm("huge", "mms", "512Mi", uri=f"file://{iris}"))  # fits 1Gi, not 300Mi
    store.create(TRAINED_MODEL, _tm("broken", "mms", "1Mi", uri=f"file://{iris}/model.joblib/nothing"))
    _settle(store, reconciler, mms_server, "huge", "broken")
    huge, broken = _conditions(store, "huge")["ModelLoaded"], _conditions(store, "broken")["ModelLoaded"]
    assert (huge["status"], huge["reason"]) == ("False", "ExceedsMemoryBudget")
    assert "needs 536870912 bytes, more than the memory budget of 314572800 bytes" in huge["message"]
    assert (broken["status"], broken["reason"]) == ("False", "LoadFailed")
    assert "load failed" in broken["message"] and "Traceback" not in broken["message"]


def test_model_loaded_without_asking_a_predictor_at_zero_or_unreachable(mms_server: MmsServer) -> None:
    for replicas, url, status, reason in (
        (0, mms_server.url, "True", "PredictorScaledToZero"),
        (None, "http://127.0.0.1:9", "Unknown", "PredictorUnreachable"),
    ):
        store = MemStore()
        mms = {"modelFormat": {"name": "sklearn"}}
        store.create(INFERENCE_SERVICE, _isvc("mms", mms))
        _predictor(store, url, replicas)
        store.create(TRAINED_MODEL, _tm("m", "mms", "1Mi"))
        states = ModelStateReader(timeout=1.0)
        reconciler = TrainedModelReconciler(
            store, ControllerConfig(version="t"), EventRecorder(store), model_states=states
        )
        result = reconciler.reconcile("default", "m")
        states.close()
        loaded = _conditions(store, "m")["ModelLoaded"]
        assert (loaded["status"], loaded["reason"]) == (status, reason), loaded
        assert result.requeue_after == POLL_S  # the model config was just written: read again soon


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


# -- end to end: zeroserve up, real kubectl ------------------------------------------------------------

ROW = [[6.8, 2.8, 4.8, 1.4]]


def _kserve_tm(name: str, uri: str, memory: str = "400Mi") -> dict[str, Any]:
    tm = _tm(name, "mms", memory, uri=uri)
    del tm["metadata"]["namespace"]
    return tm


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[asyncio.AbstractEventLoop, Any, Any]]:
    from support.platform import in_thread_platform

    loop = asyncio.new_event_loop()
    manager = in_thread_platform(tmp_path_factory.mktemp("tm-e2e"), ready_timeout=60.0)
    ctx, kubectl = loop.run_until_complete(manager.__aenter__())
    try:
        yield loop, ctx, kubectl
    finally:
        loop.run_until_complete(manager.__aexit__(None, None, None))
        loop.close()


@pytest.mark.e2e
@pytest.mark.slow
def test_kubectl_shows_the_lru_unloaded_trained_model_and_its_reload(
    platform: tuple[asyncio.AbstractEventLoop, Any, Any], iris: Path
) -> None:
    """An sklearn multi-model predictor with 1Gi (its model server's memory budget) and TrainedModels
    of 400Mi: a and b load; a is used; c makes the server unload b (least recently used), which
    ``kubectl get tm`` shows; a and c answer through the gateway, b answers 404 saying why; deleting a
    leaves room and b loads again."""
    import yaml

    loop, ctx, kubectl = platform
    uri = f"file://{iris}"
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "mms"},
        "spec": {
            "predictor": {
                "model": {"modelFormat": {"name": "sklearn"}, "resources": {"limits": {"memory": "1Gi"}}}
            }
        },
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all([isvc, _kserve_tm("a", uri), _kserve_tm("b", uri)]))

    def conditions() -> dict[str, dict[str, dict[str, Any]]]:
        items = kubectl.json("get", "tm")["items"]
        return {
            i["metadata"]["name"]: {c["type"]: c for c in (i.get("status") or {}).get("conditions") or []}
            for i in items
        }

    def until(
        predicate: Callable[[dict[str, dict[str, dict[str, Any]]]], bool], what: str, timeout: float = 90
    ) -> dict[str, dict[str, dict[str, Any]]]:
        seen: list[Any] = []

        async def check() -> dict[str, dict[str, dict[str, Any]]] | None:
            found = await asyncio.to_thread(conditions)
            seen[:] = [found]
            return found if predicate(found) else None

        try:
            return loop.run_until_complete(
                wait_until_async(check, timeout, interval=0.3, retry_on=(), what=what)
            )
        except WaitTimeout:
            raise AssertionError(f"waiting for {what}; the TrainedModels' conditions: {seen}") from None

    def ready(found: dict[str, dict[str, dict[str, Any]]], name: str) -> bool:
        return (found.get(name, {}).get("Ready") or {}).get("status") == "True"

    async def predict(name: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=30, trust_env=False) as client:
            return await client.post(
                f"/v1/models/{name}:predict",
                json={"instances": ROW},
                headers={"Host": "mms.default.example.com"},
            )

    until(lambda f: ready(f, "a") and ready(f, "b"), "a and b Ready")
    used = loop.run_until_complete(predict("a"))  # a is used after b loaded: b is least recently used
    assert used.status_code == 200 and used.json() == {"predictions": [1]}, used.text
    kubectl("apply", "-f", "-", input=yaml.safe_dump(_kserve_tm("c", uri)))
    found = until(
        lambda f: (f.get("b", {}).get("ModelLoaded") or {}).get("status") == "False" and ready(f, "c"),
        "b unloaded and c Ready",
    )
    loaded = found["b"]["ModelLoaded"]
    assert loaded["reason"] == "UnloadedLeastRecentlyUsed", loaded
    assert "loading c (419430400 bytes) exceeded the memory budget of 1073741824 bytes" in loaded["message"]
    assert (found["b"]["Ready"]["status"], found["b"]["Ready"]["reason"]) == (
        "False",
        "UnloadedLeastRecentlyUsed",
    )
    assert ready(found, "a")
    table = kubectl("get", "tm").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "URL", "READY"], table
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert (rows["a"][2], rows["b"][2], rows["c"][2]) == ("True", "False", "True"), table
    for name in ("a", "c"):
        got = loop.run_until_complete(predict(name))
        assert got.status_code == 200 and got.json() == {"predictions": [1]}, got.text
    refused = loop.run_until_complete(predict("b"))
    assert refused.status_code == 404, refused.text
    assert refused.json()["reason_code"] == "UnloadedLeastRecentlyUsed"
    assert "Model with name b is not loaded: unloaded as least recently used" in refused.json()["error"]
    kubectl("delete", "tm", "a")
    until(lambda f: "a" not in f and ready(f, "b") and ready(f, "c"), "b loaded again after a was deleted")
    again = loop.run_until_complete(predict("b"))
    assert again.status_code == 200 and again.json() == {"predictions": [1]}, again.text


def test_the_controller_may_read_what_model_loaded_needs(project_root: Path) -> None:
    """On a cluster the reader needs the predictor's Knative Service and Revision (``actualReplicas``)."""
    import yaml

    role = yaml.safe_load((project_root / "config" / "rbac" / "cluster_role.yaml").read_text())
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    for resource in ("services", "revisions"):
        assert "get" in granted.get((REVISION.group, resource), set()), resource
    assert {"get", "update"} <= granted[(TRAINED_MODEL.group, "trainedmodels/status")]
