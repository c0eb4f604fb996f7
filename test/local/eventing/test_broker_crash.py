"""Durability through a platform crash: ``zeroserve up`` is SIGKILLed with deliveries pending, restarted,
and every event its broker had accepted (202) still reaches the subscriber."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import httpx
import pytest
import yaml
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent as LibEvent
from support.waiting import wait_until_async

from zeroserve.local.testing import PlatformProcess, platform_process

from .conftest import EventSink, serve

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BROKER = "zeroserve.local.eventing.component:BrokerComponent"


def kubeconfig_token(platform: PlatformProcess) -> dict[str, str]:
    """``Authorization`` with the platform's kubeconfig token, which the broker ingress accepts."""
    token = yaml.safe_load(platform.kubeconfig.read_text())["users"][0]["user"]["token"]
    return {"authorization": f"Bearer {token}"}


async def broker_url(platform: PlatformProcess, deadline_s: float = 30) -> str:
    """The ingress address once the broker has loaded the Broker (the ingress answers 404 before)."""
    url = f"{platform.info['extra']['broker_url']}/default/default"
    async with httpx.AsyncClient(headers=kubeconfig_token(platform)) as client:

        async def accepted() -> bool:
            probe = to_binary_event(LibEvent(attributes={"type": "probe", "source": "test"}, data={}))
            return (await client.post(url, headers=probe.headers, content=probe.body)).status_code == 202

        await wait_until_async(
            accepted, deadline_s, what="the broker to accept events", interval=0.2, retry_on=()
        )
    return url


async def test_accepted_events_survive_a_platform_crash(tmp_path: Path) -> None:
    sink = EventSink(reject_all=True, fail_status=503)  # the subscriber is down at first
    async with serve(sink) as subscriber:
        manager = platform_process(tmp_path / "state", components=[BROKER])
        platform = await asyncio.to_thread(manager.__enter__)
        try:
            await asyncio.to_thread(
                platform.kubectl,
                "apply",
                "-f",
                "-",
                input=textwrap.dedent(f"""
                    apiVersion: eventing.knative.dev/v1
                    kind: Broker
                    metadata: {{name: default, namespace: default}}
                    ---
                    apiVersion: eventing.knative.dev/v1
                    kind: Trigger
                    metadata: {{name: to-sink, namespace: default}}
                    spec:
                      broker: default
                      filter: {{attributes: {{type: org.kubeflow.serving.inference.request}}}}
                      subscriber: {{uri: "{subscriber.url}"}}
                      delivery: {{retry: 100, backoffPolicy: linear, backoffDelay: PT0.1S}}
                """),
            )
            url = await broker_url(platform)
            ids = []
            async with httpx.AsyncClient(headers=kubeconfig_token(platform)) as client:
                for i in range(50):
                    event = LibEvent(
                        attributes={"type": "org.kubeflow.serving.inference.request", "source": "t"},
                        data={"instances": [[i]]},
                    )
                    message = to_binary_event(event)
                    assert (
                        await client.post(url, headers=message.headers, content=message.body)
                    ).status_code == 202
                    ids.append(event.get_id())
            await asyncio.to_thread(platform.restart)  # SIGKILL, then the same command on the same state
            sink.reject_all = False  # the subscriber comes back
            await wait_until_async(  # duplicates are allowed, losses not
                lambda: {e.get_id() for e in sink.events} == set(ids),
                60,
                what=f"all {len(ids)} accepted events to be delivered",
                interval=0.1,
                retry_on=(),
            )
        finally:
            await asyncio.to_thread(manager.__exit__, None, None, None)
    assert len(sink.events) >= len(ids)
