"""End to end: one request through the gateway is ONE trace down to the drift detector.

An in-thread platform (API server, controller, engine, broker) runs with tracing on to an in-process
OTLP receiver: the engine's gateway and the broker in this process, every instance (transformer,
sklearn predictor with the payload logger on, drift detector on a Trigger) in its own process with
the inherited ``OTEL_EXPORTER_OTLP_ENDPOINT``. The request carries a ``traceparent``; every span
named in issue 15 must arrive in that trace, parent-linked and in order, and ``zeroserve traces``
must print it as a tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import secrets
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from support.platform import in_thread_platform
from support.waiting import wait_until_async

from zeroserve.local.eventing.component import BrokerComponent
from zeroserve.local.testing import Kubectl
from zeroserve.local.traces.receiver import TraceReceiver
from zeroserve.local.traces.render import render_tree
from zeroserve.local.traces.store import SpanRecord
from zeroserve.process import tracing
from zeroserve.servers.testing import train_iris_sklearn

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TRANSFORMER = """
from zeroserve.servers import Model


class Passthrough(Model):
    def load(self) -> bool:
        self.ready = True
        return True
"""


def manifests(model_dir: Path, transformer: Path, reference: Path) -> str:
    broker = "http://broker-ingress.knative-eventing.svc.cluster.local/default/default"
    warm = '{autoscaling.knative.dev/min-scale: "1"}'
    return textwrap.dedent(f"""
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    metadata: {{name: default, namespace: default}}
    ---
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata: {{name: iris, namespace: default, annotations: {warm}}}
    spec:
      predictor:
        minReplicas: 1
        logger: {{mode: request, url: "{broker}"}}
        model:
          modelFormat: {{name: sklearn}}
          storageUri: "file://{model_dir}"
      transformer:
        minReplicas: 1
        containers:
        - name: kserve-container
          image: ghcr.io/zeroserve/zeroserve:latest
          args: [serve, custom, --model-class, "{transformer}:Passthrough", --model_name, iris]
    ---
    apiVersion: serving.knative.dev/v1
    kind: Service
    metadata: {{name: drift-detector, namespace: default}}
    spec:
      template:
        metadata: {{annotations: {warm}}}
        spec:
          containers:
          - image: ghcr.io/zeroserve/zeroserve:latest
            args: [detector, drift, --reference-uri, "{reference}", --window, "10", --name, iris-drift]
    ---
    apiVersion: eventing.knative.dev/v1
    kind: Trigger
    metadata: {{name: drift, namespace: default}}
    spec:
      broker: default
      filter: {{attributes: {{type: org.kubeflow.serving.inference.request}}}}
      subscriber: {{ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: drift-detector}}}}
    """)


@contextlib.asynccontextmanager
async def traced_platform(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TraceReceiver, str, Kubectl]]:
    receiver = TraceReceiver()
    url = await receiver.start()
    # this process (gateway, broker) and, through the engine's environment, every instance
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    tracing.configure("zeroserve-platform")
    broker = BrokerComponent()
    try:
        async with in_thread_platform(folder, ready_timeout=60.0) as (ctx, kubectl):
            await broker.start(ctx)
            try:
                yield receiver, ctx.gateway_url, kubectl
            finally:
                await broker.stop()
    finally:
        await asyncio.to_thread(tracing.shutdown)
        await receiver.stop()


def _ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def _wait_ready(kubectl: Kubectl, kind: str, count: int) -> None:
    async def ready() -> bool:
        items = (await asyncio.to_thread(kubectl.json, "get", kind, "-n", "default"))["items"]
        return len(items) >= count and all(_ready(i) for i in items)

    await wait_until_async(ready, 90, what=f"{count} Ready {kind}", interval=0.3, retry_on=())


EXPECTED = {
    "gateway": 2,  # the client's request, and the transformer's call to the predictor
    "activator": 2,
    "POST /v1/models/iris:predict": 2,  # transformer and predictor
    "decode": 2,
    "preprocess": 2,
    "predict": 2,
    "postprocess": 2,
    "encode": 2,
    "predictor predict": 1,
    "payload logger": 1,
    "payload-logger emit": 1,
    "broker deliver": 1,
    "detector drift": 1,
}


async def test_one_request_is_one_trace_from_the_gateway_to_the_detector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = await asyncio.to_thread(train_iris_sklearn, tmp_path / "model")
    transformer = tmp_path / "transformer.py"
    transformer.write_text(TRANSFORMER)
    reference = tmp_path / "reference.npy"
    np.save(reference, np.random.default_rng(1).normal(size=(200, 4)))
    async with traced_platform(tmp_path / "platform", monkeypatch) as (receiver, gateway, kubectl):
        docs = manifests(model_dir, transformer, reference)
        await asyncio.to_thread(kubectl, "apply", "-f", "-", input=docs)
        await _wait_ready(kubectl, "inferenceservices", 1)
        await _wait_ready(kubectl, "ksvc", 3)
        await _wait_ready(kubectl, "triggers", 1)
        trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
        traceparent = {"traceparent": f"00-{trace_id}-{client_span}-01"}
        headers = {"host": "iris.default.example.com"}
        client = httpx.AsyncClient(base_url=gateway, headers=headers, timeout=30, trust_env=False)
        async with client:

            async def routed() -> bool:
                return (await client.get("/v1/models/iris")).status_code == 200

            await wait_until_async(routed, 30, what="the gateway to route iris", interval=0.2, retry_on=())
            body = {"instances": [[6.8, 2.8, 4.8, 1.4]]}
            response = await client.post("/v1/models/iris:predict", json=body, headers=traceparent)
            assert response.status_code == 200, response.text

        def complete() -> list[SpanRecord] | None:
            spans = receiver.store.trace(trace_id)
            counts = {name: sum(s.name == name for s in spans) for name in EXPECTED}
            return spans if counts == EXPECTED else None

        try:
            spans = await wait_until_async(complete, 30, what="every span", interval=0.2, retry_on=())
        except Exception:
            got = [s.to_json() for s in receiver.store.trace(trace_id)]
            raise AssertionError(f"spans received:\n{render_tree(got)}") from None
        _check_tree(spans, client_span)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            from zeroserve.cli import main

            code = await asyncio.to_thread(main, ["traces", "--url", receiver.url, trace_id])
    assert code == 0
    tree = out.getvalue()
    print(tree)
    lines = tree.splitlines()
    assert lines[0].startswith(f"trace {trace_id}  {sum(EXPECTED.values())} spans")
    assert "gateway" in lines[1] and "[zeroserve-platform]" in lines[1]
    indent = {line.split(" ms  ")[-1].split(" [")[0].rstrip(): line for line in lines[1:]}
    assert any(name.endswith("detector drift") and name.startswith("  " * 5) for name in indent)


def _check_tree(spans: list[SpanRecord], client_span: str) -> None:
    by_id = {s.span_id: s for s in spans}

    def parent(s: SpanRecord) -> SpanRecord:
        return by_id[s.parent_id]

    def one(name: str, service_prefix: str = "") -> SpanRecord:
        found = [s for s in spans if s.name == name and s.service.startswith(service_prefix)]
        assert len(found) == 1, (name, service_prefix, found)
        return found[0]

    roots = [s for s in spans if s.parent_id not in by_id]
    assert [s.name for s in roots] == ["gateway"] and roots[0].parent_id == client_span
    outer = roots[0]
    assert outer.attributes["zeroserve.revision"].startswith("iris-transformer")
    assert outer.attributes["http.response.status_code"] == 200
    t_server = one("POST /v1/models/iris:predict", "iris-transformer")
    p_server = one("POST /v1/models/iris:predict", "iris-predictor")
    assert parent(t_server) is outer
    call = one("predictor predict")
    assert parent(call) is one("predict", "iris-transformer") and parent(parent(call)) is t_server
    inner = next(s for s in spans if s.name == "gateway" and s.parent_id == call.span_id)
    assert parent(inner) is call and inner.attributes["zeroserve.revision"].startswith("iris-predictor")
    for gateway in (outer, inner):
        activator = [s for s in spans if s.name == "activator" and s.parent_id == gateway.span_id]
        assert len(activator) == 1 and activator[0].attributes["zeroserve.cold_start"] is False
    assert parent(p_server) is inner
    for server, service in ((t_server, "iris-transformer"), (p_server, "iris-predictor")):
        steps = [one(n, service) for n in ("decode", "preprocess", "predict", "postprocess", "encode")]
        assert all(parent(s) is server for s in steps)
        assert [s.start_ns for s in steps] == sorted(s.start_ns for s in steps)
        assert all(a.end_ns <= b.start_ns for a, b in itertools.pairwise(steps))
    emit = one("payload-logger emit")
    assert parent(emit) is one("payload logger") and parent(parent(emit)) is inner
    deliver = one("broker deliver")
    assert parent(deliver) is emit and deliver.service == "zeroserve-platform"
    detector = one("detector drift")
    assert parent(detector) is deliver and detector.service.startswith("drift-detector")
    # in order along the path
    path = [outer, t_server, call, inner, p_server]
    assert [s.start_ns for s in path] == sorted(s.start_ns for s in path)
    assert emit.start_ns <= deliver.start_ns <= detector.start_ns
