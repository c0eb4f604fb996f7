"""End to end on the embedded platform: an iris InferenceService logs to a Broker; Triggers feed detectors.

``zeroserve up`` (API server, controller, serving engine, broker) in a subprocess, everything
applied with real kubectl: a sklearn iris InferenceService with ``logger: {mode: all, url: <broker>}``,
a Broker, drift and outlier detectors as Knative Services, Triggers from the Broker to the
detectors, and Triggers that bring the detectors' replies (re-ingested by the Broker) to a
CloudEvents sink in this test. 200 in-distribution requests, then 200 shifted ones (drift windows
of 100), then injected outliers: drift is reported only on the shifted windows, the outliers are
flagged, and every request produced exactly one outlier result (nothing lost; duplicates would be
visible). Requests go 8 at a time; the phases are kept apart by waiting for the first windows.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from support.waiting import WaitTimeout, wait_until_async

from zeroserve.local.testing import PlatformProcess, platform_process
from zeroserve.servers.testing import train_iris_sklearn

from .conftest import EventSink, serve
from .test_detectors import iris_like

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COMPONENTS = [
    "zeroserve.local.controller:ControllerComponent",
    "zeroserve.local.engine.component:EngineComponent",
    "zeroserve.local.eventing.component:BrokerComponent",
]
WINDOW = 100
"""Drift window; each phase sends two windows of rows."""
DRIFT = "org.kubeflow.serving.inference.drift"
OUTLIER = "org.kubeflow.serving.inference.outlier"


def manifests(model_dir: Path, reference: Path, sink_url: str) -> str:
    broker = "http://broker-ingress.knative-eventing.svc.cluster.local/default/default"
    detector = "ghcr.io/zeroserve/zeroserve:latest"
    keep_warm = '{autoscaling.knative.dev/min-scale: "1"}'
    docs = f"""
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    metadata: {{name: default, namespace: default}}
    ---
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata: {{name: sklearn-iris, namespace: default, annotations: {keep_warm}}}
    spec:
      predictor:
        minReplicas: 1
        logger: {{mode: all, url: "{broker}"}}
        model:
          modelFormat: {{name: sklearn}}
          storageUri: "file://{model_dir}"
    ---
    apiVersion: serving.knative.dev/v1
    kind: Service
    metadata: {{name: drift-detector, namespace: default}}
    spec:
      template:
        metadata: {{annotations: {keep_warm}}}
        spec:
          containers:
          - image: {detector}
            args: [detector, drift, --reference-uri, "{reference}", --window, "{WINDOW}", --name, iris-drift]
    ---
    apiVersion: serving.knative.dev/v1
    kind: Service
    metadata: {{name: outlier-detector, namespace: default}}
    spec:
      template:
        metadata: {{annotations: {keep_warm}}}
        spec:
          containers:
          - image: {detector}
            args: [detector, outlier, --reference-uri, "{reference}", --name, iris-outlier]
    """
    for name, target in (("drift", "drift-detector"), ("outlier", "outlier-detector")):
        docs += f"""
    ---
    apiVersion: eventing.knative.dev/v1
    kind: Trigger
    metadata: {{name: {name}-trigger, namespace: default}}
    spec:
      broker: default
      filter:
        attributes: {{type: org.kubeflow.serving.inference.request, inferenceservicename: sklearn-iris}}
      subscriber: {{ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: {target}}}}}
      delivery: {{retry: 5, backoffPolicy: exponential, backoffDelay: PT0.2S}}
    ---
    apiVersion: eventing.knative.dev/v1
    kind: Trigger
    metadata: {{name: {name}-results, namespace: default}}
    spec:
      broker: default
      filter: {{attributes: {{type: org.kubeflow.serving.inference.{name}}}}}
      subscriber: {{uri: "{sink_url}"}}
    """
    return textwrap.dedent(docs)


def ready(obj: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    )


async def wait_ready(platform: PlatformProcess, kind: str, count: int, deadline_s: float = 180) -> None:
    items: list[dict[str, Any]] = []

    async def all_ready() -> bool:
        nonlocal items
        items = (await asyncio.to_thread(platform.kubectl.json, "get", kind, "-n", "default"))["items"]
        return len(items) >= count and all(ready(item) for item in items)

    try:
        await wait_until_async(all_ready, deadline_s, what=f"{count} Ready {kind}", interval=0.5, retry_on=())
    except WaitTimeout:
        states = {i["metadata"]["name"]: (i.get("status") or {}).get("conditions") for i in items}
        raise AssertionError(f"{kind} not ready: {states}\n{platform.log()[-3000:]}") from None


async def predict(client: httpx.AsyncClient, rows: np.ndarray, concurrency: int = 8) -> None:
    """One request per row, ``concurrency`` at a time (the detectors' windows do not depend on order)."""
    pending = iter(rows)

    async def worker() -> None:
        for row in pending:
            response = await client.post(
                "/v1/models/sklearn-iris:predict", json={"instances": [row.tolist()]}
            )
            assert response.status_code == 200, response.text

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def test_logged_inferences_reach_drift_and_outlier_detectors_through_broker_and_triggers(
    tmp_path: Path,
) -> None:
    model_dir = await asyncio.to_thread(train_iris_sklearn, tmp_path / "model")
    reference = tmp_path / "reference.npy"
    np.save(reference, iris_like(1000, seed=1))
    sink = EventSink()
    async with serve(sink) as sink_server:
        manager = platform_process(tmp_path / "state", components=COMPONENTS)
        platform = await asyncio.to_thread(manager.__enter__)
        try:
            await asyncio.to_thread(
                platform.kubectl, "apply", "-f", "-", input=manifests(model_dir, reference, sink_server.url)
            )
            await wait_ready(platform, "inferenceservices", 1)
            await wait_ready(platform, "ksvc", 3)
            await wait_ready(platform, "triggers", 4)
            gateway = str(platform.info["gateway_url"])
            isvc = await asyncio.to_thread(
                platform.kubectl.json, "get", "isvc", "sklearn-iris", "-n", "default"
            )
            headers = {"host": urlsplit(isvc["status"]["url"]).netloc}
            async with httpx.AsyncClient(base_url=gateway, headers=headers, timeout=30) as client:
                await _wait_routed(client)
                await predict(client, iris_like(2 * WINDOW, seed=2))
                await _wait_for_type(sink, DRIFT, 2)
                await predict(client, iris_like(2 * WINDOW, seed=3, shift=0.8))
                await predict(client, np.array([[12.0, 0.5, 12.0, 6.0], [1.0, 9.0, 0.2, 4.0]]))
            await _wait_for_type(sink, DRIFT, 4)
            outliers = await _wait_for_type(sink, OUTLIER, 4 * WINDOW + 2)
        finally:
            await asyncio.to_thread(manager.__exit__, None, None, None)
    drift = [e.get_data()["data"]["is_drift"] for e in sink.events if e.get_type() == DRIFT]
    assert drift == [0, 0, 1, 1]
    assert len(outliers) == 4 * WINDOW + 2  # one result per logged request: none lost, none doubled
    assert len({e.get_data()["meta"]["request_id"] for e in outliers}) == 4 * WINDOW + 2
    injected = [e for e in outliers if e.get_data()["data"]["instance_score"][0] > 100]
    assert len(injected) == 2 and all(e.get_data()["data"]["is_outlier"] == [1] for e in injected)


async def _wait_routed(client: httpx.AsyncClient, deadline_s: float = 60) -> None:
    """The gateway learns routes a moment after Ready; poll a GET (not logged) until it answers."""

    async def routed() -> bool:
        return (await client.get("/v1/models/sklearn-iris")).status_code == 200

    await wait_until_async(
        routed, deadline_s, what="the gateway to route the InferenceService", interval=0.2, retry_on=()
    )


async def _wait_for_type(sink: EventSink, event_type: str, count: int, deadline_s: float = 240) -> list[Any]:

    def enough() -> list[Any] | None:
        found = [e for e in sink.events if e.get_type() == event_type]
        return found if len(found) >= count else None

    return await wait_until_async(
        enough, deadline_s, what=f"{count} {event_type} events", interval=0.2, retry_on=()
    )
