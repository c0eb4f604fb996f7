"""BrokerComponent against the embedded API server: Brokers and Triggers applied with real kubectl."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes
import pytest
import yaml
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent as LibEvent
from support.waiting import wait_until_async

from zeroserve.apis.crds import all_crds
from zeroserve.local.apiserver import ApiServerSettings, run_in_thread
from zeroserve.local.component import PlatformContext
from zeroserve.local.eventing.component import BrokerComponent
from zeroserve.local.kubeconfig import write_kubeconfig
from zeroserve.local.testing import Kubectl

from .conftest import EventSink, serve

NS = "monitoring"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Kubectl]]:
    state = tmp_path_factory.mktemp("apiserver")
    with run_in_thread(ApiServerSettings(port=0, state_dir=state), crds=all_crds()) as server:
        kubeconfig = write_kubeconfig(state / "kubeconfig", server.url, server.token, ca_cert=server.ca_cert)
        kubectl = Kubectl(kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))
        kubectl("apply", "-f", "-", input=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n")
        yield kubeconfig, kubectl


MANIFESTS = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: monitoring}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: display, namespace: monitoring}
spec:
  template:
    spec:
      containers: [{image: gcr.io/knative-releases/knative.dev/eventing/cmd/event_display}]
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: requests, namespace: monitoring}
spec:
  broker: default
  filter: {attributes: {type: org.kubeflow.serving.inference.request}}
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: display}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: flaky, namespace: monitoring}
spec:
  broker: default
  filter: {attributes: {type: org.kubeflow.serving.inference.response}}
  subscriber: {uri: "FLAKY_URL"}
  delivery: {retry: 2, backoffPolicy: linear, backoffDelay: PT0.05S, deadLetterSink: {uri: "DLS_URL"}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: prefixed, namespace: monitoring}
spec:
  broker: default
  filters: [{prefix: {type: org.kubeflow.serving.inference.}}, {not: {exact: {source: ignored}}}]
  subscriber: {uri: "PREFIX_URL"}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: sql, namespace: monitoring}
spec:
  broker: default
  filters: [{cesql: "type = 'x'"}]
  subscriber: {uri: "PREFIX_URL"}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: dangling, namespace: monitoring}
spec:
  broker: default
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: nowhere}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: orphan, namespace: monitoring}
spec:
  broker: missing
  subscriber: {uri: "PREFIX_URL"}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: lettered, namespace: monitoring}
spec:
  delivery:
    deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: no-such-sink}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: on-lettered, namespace: monitoring}
spec:
  broker: lettered
  subscriber: {uri: "PREFIX_URL"}
"""


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return dict(cond)
    return {}


def ready(obj: dict[str, Any]) -> str | None:
    return condition(obj, "Ready").get("status")


@pytest.mark.e2e
async def test_brokers_and_triggers_applied_with_kubectl_become_real(
    cluster: tuple[Path, Kubectl], tmp_path: Path
) -> None:
    kubeconfig, kubectl = cluster
    display, flaky, dls = EventSink(), EventSink(reject_all=True, fail_status=503), EventSink()
    prefixed = EventSink()
    async with serve(display) as d, serve(flaky) as f, serve(dls) as dl, serve(prefixed) as p:
        manifests = (
            MANIFESTS.replace("FLAKY_URL", f.url).replace("DLS_URL", dl.url).replace("PREFIX_URL", p.url)
        )
        await asyncio.to_thread(kubectl, "apply", "-f", "-", input=manifests)
        # the Knative Service stands in for a ready one: its address is the local display server
        api = kubernetes.client.CustomObjectsApi(kubernetes.config.new_client_from_config(str(kubeconfig)))
        await asyncio.to_thread(
            api.patch_namespaced_custom_object_status,
            "serving.knative.dev",
            "v1",
            NS,
            "services",
            "display",
            {"status": {"address": {"url": d.url}, "url": d.url}},
        )
        component = BrokerComponent(delivery_proxy=None, resync_interval=0.2)
        ctx = PlatformContext(state_dir=tmp_path, kubeconfig=kubeconfig)
        await component.start(ctx)
        try:

            def ready_broker() -> dict[str, Any] | None:
                broker: dict[str, Any] = kubectl.json("get", "broker", "default", "-n", NS)
                return broker if ready(broker) == "True" else None

            def resolved_triggers() -> list[dict[str, Any]] | None:
                items: list[dict[str, Any]] = kubectl.json("get", "triggers", "-n", NS)["items"]
                return items if len(items) == 7 and all(ready(t) for t in items) else None

            broker = await wait_until_async(
                lambda: asyncio.to_thread(ready_broker),
                20,
                what="the Broker Ready",
                interval=0.1,
                retry_on=(),
            )
            assert broker["status"]["address"]["url"] == (
                "http://broker-ingress.knative-eventing.svc.cluster.local/monitoring/default"
            )
            triggers = await wait_until_async(
                lambda: asyncio.to_thread(resolved_triggers),
                20,
                what="the Triggers resolved",
                interval=0.1,
                retry_on=(),
            )
            by_name = {t["metadata"]["name"]: t for t in triggers}
            assert by_name["requests"]["status"]["subscriberUri"] == d.url
            assert ready(by_name["requests"]) == ready(by_name["flaky"]) == "True"
            assert ready(by_name["dangling"]) == "False"
            assert ready(by_name["prefixed"]) == "True" and ready(by_name["sql"]) == "False"
            assert "not supported" in condition(by_name["sql"], "SubscriptionReady")["message"]
            assert condition(by_name["sql"], "Ready")["reason"] == "UnsupportedFilter"
            dangling = condition(by_name["dangling"], "SubscriberResolved")
            assert dangling["status"] == "False" and "not found" in dangling["message"]
            # Knative's condition sets, and only they
            assert {c["type"] for c in broker["status"]["conditions"]} == {
                "Ready",
                "IngressReady",
                "TriggerChannelReady",
                "FilterReady",
                "Addressable",
                "DeadLetterSinkResolved",
            }
            assert condition(broker, "DeadLetterSinkResolved")["reason"] == "DeadLetterSinkNotConfigured"
            assert {c["type"] for c in by_name["requests"]["status"]["conditions"]} == {
                "Ready",
                "BrokerReady",
                "SubscriptionReady",
                "DependencyReady",
                "SubscriberResolved",
                "DeadLetterSinkResolved",
            }
            assert by_name["flaky"]["status"]["deadLetterSinkUri"] == dl.url
            orphan = condition(by_name["orphan"], "Ready")
            assert (orphan["status"], orphan["reason"]) == ("False", "BrokerDoesNotExist")
            assert "missing" in orphan["message"]
            # a Broker whose dead-letter sink cannot be resolved is not ready, nor are its Triggers
            lettered = kubectl.json("get", "broker", "lettered", "-n", NS)
            sink = condition(lettered, "DeadLetterSinkResolved")
            assert (sink["status"], sink["reason"]) == ("False", "DeadLetterSinkNotResolved")
            assert "no-such-sink" in sink["message"] and ready(lettered) == "False"
            assert condition(by_name["on-lettered"], "BrokerReady")["reason"] == "DeadLetterSinkNotResolved"
            assert all(c["lastTransitionTime"] for t in triggers for c in t["status"]["conditions"])

            # what a kubectl user holds (the kubeconfig's token) is accepted as well as the broker token
            token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
            async with httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}) as client:
                for kind in ("request", "response"):
                    event = LibEvent(
                        attributes={"type": f"org.kubeflow.serving.inference.{kind}", "source": "t"},
                        data={"instances": [[1]]},
                    )
                    message = to_binary_event(event)
                    answer = await client.post(
                        f"{ctx.extra['broker_url']}/{NS}/default",
                        headers=message.headers,
                        content=message.body,
                    )
                    assert answer.status_code == 202
            # later passes change nothing: same conditions, same transition times, no new writes
            await asyncio.sleep(0.5)  # a few resync passes (0.2 s each)
            again = {t["metadata"]["name"]: t for t in kubectl.json("get", "triggers", "-n", NS)["items"]}
            assert {n: t["status"] for n, t in again.items()} == {n: t["status"] for n, t in by_name.items()}
            assert all(
                again[n]["metadata"]["resourceVersion"] == t["metadata"]["resourceVersion"]
                for n, t in by_name.items()
            )
            (received,) = await display.wait_for(1)
            both = await prefixed.wait_for(2)
            (letter,) = await dls.wait_for(1)
        finally:
            await component.stop()
    assert received.get_type() == "org.kubeflow.serving.inference.request"
    assert sorted(e.get_type().rsplit(".", 1)[1] for e in both) == ["request", "response"]
    assert letter.get_extension("knativeerrorcode") == "503" and flaky.attempts == 3
