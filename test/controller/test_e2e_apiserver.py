"""The operator loop against the embedded API server, through the kubernetes client (KubeStore).

Real HTTP, real watches, the server's own 409s, schema validation and garbage collection. Knative
Serving's status writes are played by :class:`KnativeSim` (the serving engine is tested on its own).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.waiting import wait_until

from zeroserve.apis.crds import all_crds
from zeroserve.controller.controller import Controller, ControllerOptions
from zeroserve.controller.errors import AlreadyExists, Conflict, NotFound
from zeroserve.controller.kinds import (
    EVENT,
    HTTP_ROUTE,
    INFERENCE_GRAPH,
    INFERENCE_SERVICE,
    KNATIVE_SERVICE,
    LEASE,
    Kind,
)
from zeroserve.controller.kube import KubeStore
from zeroserve.controller.leader import LeaseConfig
from zeroserve.controller.queue import ExponentialBackoff
from zeroserve.local.apiserver import ApiServerSettings, run_in_thread
from zeroserve.local.kubeconfig import write_kubeconfig

from .knative_sim import KnativeSim

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NS = "default"


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    state = tmp_path_factory.mktemp("apiserver")
    with run_in_thread(ApiServerSettings(port=0, state_dir=state, in_memory=True), crds=all_crds()) as server:
        yield write_kubeconfig(state / "kubeconfig", server.url, server.token, ca_cert=server.ca_cert)


@pytest.fixture
def store(kubeconfig: Path) -> Iterator[KubeStore]:
    kube = KubeStore.from_kubeconfig(kubeconfig)
    try:
        yield kube
    finally:
        kube.close()


def isvc(name: str, **predictor: Any) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"predictor": {"sklearn": {"storageUri": "gs://models/iris"}, **predictor}},
    }


def condition(obj: dict[str, Any], type_: str) -> str | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return str(c["status"])
    return None


def test_store_speaks_the_api_servers_errors(store: KubeStore) -> None:
    created = store.create(INFERENCE_SERVICE, isvc("errors"))
    assert created["metadata"]["uid"]
    with pytest.raises(AlreadyExists):
        store.create(INFERENCE_SERVICE, isvc("errors"))
    with pytest.raises(NotFound):
        store.get(INFERENCE_SERVICE, NS, "missing")
    stale = store.get(INFERENCE_SERVICE, NS, "errors")
    fresh = store.get(INFERENCE_SERVICE, NS, "errors")
    fresh["metadata"]["labels"] = {"a": "b"}
    store.update(INFERENCE_SERVICE, fresh)
    stale["metadata"]["labels"] = {"a": "c"}
    with pytest.raises(Conflict):
        store.update(INFERENCE_SERVICE, stale)
    listed = store.list(INFERENCE_SERVICE, NS)
    assert "errors" in [i["metadata"]["name"] for i in listed.items] and listed.resource_version
    store.delete(INFERENCE_SERVICE, NS, "errors")


def test_watch_streams_changes_and_closes(store: KubeStore) -> None:
    start = store.list(INFERENCE_SERVICE, NS).resource_version
    watch = store.watch(INFERENCE_SERVICE, NS, start, timeout_seconds=5)
    store.create(INFERENCE_SERVICE, isvc("watched"))
    seen = []
    for event in watch:
        seen.append((event.type, event.object["metadata"]["name"]))
        if ("ADDED", "watched") in seen:
            break
    watch.close()
    assert ("ADDED", "watched") in seen
    store.delete(INFERENCE_SERVICE, NS, "watched")


def test_operator_loop_end_to_end(store: KubeStore, kubeconfig: Path) -> None:
    options = ControllerOptions(
        workers=2,
        leader_elect=True,
        identity="e2e",
        lease=LeaseConfig(namespace="default", name="zeroserve-e2e", retry_period=0.2),
        watch_timeout_seconds=5,
        backoff=ExponentialBackoff(base=0.05, cap=1),
    )
    controller = Controller(KubeStore.from_kubeconfig(kubeconfig), options=options)
    knative = KnativeSim(store)
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert controller.started.wait(30)
        assert store.get(LEASE, "default", "zeroserve-e2e")["spec"]["holderIdentity"] == "e2e"

        store.create(INFERENCE_SERVICE, isvc("iris"))
        wait_until(
            lambda: condition(store.get(INFERENCE_SERVICE, NS, "iris"), "Ready") == "True",
            30,
            what="InferenceService iris Ready",
            before_each=knative.sync,
        )
        status = store.get(INFERENCE_SERVICE, NS, "iris")["status"]
        assert status["url"] == "http://iris.default.example.com"
        assert status["components"]["predictor"]["latestRolledoutRevision"] == "iris-predictor-00001"
        route = store.get(HTTP_ROUTE, NS, "iris")
        assert route["spec"]["hostnames"][0] == "iris.default.example.com"
        reasons = {e["reason"] for e in store.list(EVENT, NS).items if e["involvedObject"]["name"] == "iris"}
        assert {"Created", "InferenceServiceReady"} <= reasons

        # steady state through the real server (its defaulting and pruning included): nothing to write
        def versions() -> list[str]:
            return [
                store.get(kind, NS, name)["metadata"]["resourceVersion"]
                for kind, name in (
                    (INFERENCE_SERVICE, "iris"),
                    (KNATIVE_SERVICE, "iris-predictor"),
                    (HTTP_ROUTE, "iris"),
                )
            ]

        before = versions()
        controller.reconcile_key((INFERENCE_SERVICE.kind, NS, "iris"))
        assert versions() == before, "a reconcile of an unchanged InferenceService must write nothing"

        # a canary through the real server
        obj = store.get(INFERENCE_SERVICE, NS, "iris")
        obj["spec"]["predictor"] = {
            "canaryTrafficPercent": 10,
            "sklearn": {"storageUri": "gs://models/iris-2"},
        }
        store.update(INFERENCE_SERVICE, obj)

        def split() -> bool:
            traffic = store.get(INFERENCE_SERVICE, NS, "iris")["status"]["components"]["predictor"].get(
                "traffic"
            )
            return sorted(t["percent"] for t in traffic or []) == [10, 90]

        wait_until(split, 30, what="a 10/90 traffic split", before_each=knative.sync)

        # what `kubectl get isvc` users see: KServe's printer columns over our status
        from zeroserve.local.testing import Kubectl

        header, row = Kubectl(kubeconfig)("get", "isvc", "iris", "-n", NS).stdout.splitlines()[:2]
        assert header.split()[:7] == [
            "NAME",
            "URL",
            "READY",
            "PREV",
            "LATEST",
            "PREVROLLEDOUTREVISION",
            "LATESTREADYREVISION",
        ]
        assert row.split()[:7] == [
            "iris",
            "http://iris.default.example.com",
            "True",
            "90",
            "10",
            "iris-predictor-00001",
            "iris-predictor-00002",
        ]

        # an InferenceGraph over it
        store.create(
            INFERENCE_GRAPH,
            {
                "apiVersion": "serving.kserve.io/v1alpha1",
                "kind": "InferenceGraph",
                "metadata": {"name": "pipeline", "namespace": NS},
                "spec": {"nodes": {"root": {"routerType": "Sequence", "steps": [{"serviceName": "iris"}]}}},
            },
        )
        wait_until(
            lambda: condition(store.get(INFERENCE_GRAPH, NS, "pipeline"), "Ready") == "True",
            30,
            what="InferenceGraph pipeline Ready",
            before_each=knative.sync,
        )

        # deleting the InferenceService garbage-collects its children
        store.delete(INFERENCE_SERVICE, NS, "iris")

        def collected() -> bool:
            names = [k["metadata"]["name"] for k in store.list(KNATIVE_SERVICE, NS).items]
            return "iris-predictor" not in names

        wait_until(collected, 30, what="iris-predictor garbage-collected")
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert store.get(LEASE, "default", "zeroserve-e2e")["spec"]["holderIdentity"] == "", "released on stop"


def test_cli_process_reconciles_and_stops_on_sigterm(store: KubeStore, kubeconfig: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    store.create(Kind("", "v1", "Namespace", "namespaces", namespaced=False), {"metadata": {"name": "cli"}})
    command = [
        "controller",
        "--kubeconfig",
        str(kubeconfig),
        "--namespace=cli",
        "--http-port=0",
        "--workers=1",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "zeroserve", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        obj = isvc("from-cli")
        obj["metadata"]["namespace"] = "cli"
        store.create(INFERENCE_SERVICE, obj)
        wait_until(
            lambda: store.get(KNATIVE_SERVICE, "cli", "from-cli-predictor"),
            60,
            what="ksvc from-cli-predictor",
        )
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(line["msg"] == "controller stopped" for line in lines), "logs are JSON lines"


async def test_platform_component_starts_reconciles_and_stops(kubeconfig: Path, tmp_path: Path) -> None:
    import asyncio

    from zeroserve.local.component import Component, PlatformContext
    from zeroserve.local.controller import ControllerComponent

    component = ControllerComponent(ControllerOptions(namespace="platform", watch_timeout_seconds=5))
    assert isinstance(component, Component)
    store = KubeStore.from_kubeconfig(kubeconfig)
    try:
        namespaces = Kind("", "v1", "Namespace", "namespaces", namespaced=False)
        await asyncio.to_thread(store.create, namespaces, {"metadata": {"name": "platform"}})
        await component.start(
            PlatformContext(state_dir=tmp_path, kubeconfig=kubeconfig, domain="models.test")
        )
        obj = isvc("in-platform")
        obj["metadata"]["namespace"] = "platform"
        await asyncio.to_thread(store.create, INFERENCE_SERVICE, obj)
        knative = KnativeSim(store, domain="models.test")

        def url() -> str | None:
            return (store.get(INFERENCE_SERVICE, "platform", "in-platform").get("status") or {}).get("url")

        assert (
            await asyncio.to_thread(wait_until, url, 30, what="in-platform's URL", before_each=knative.sync)
            == "http://in-platform.platform.models.test"
        )
    finally:
        await component.stop()
        await component.stop()  # twice is safe
        store.close()
