"""Issue #16: a subscriber that is down for a while, then comes back, loses no event.

The first test runs the real broker (real HTTP ingress, SQLite store, dispatcher, subscriber server)
on a fake clock, so a five-minute outage takes seconds: the default delivery (no ``delivery`` on
Broker or Trigger) rides it out; an explicit short one (``retry: 2``) is honoured as Knative does and
its failures land in the dead-letter store instead of vanishing. The second runs ``zeroserve up``
with a Trigger that has no ``delivery`` and a scaled-down outage at 40 events/s.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import httpx
import pytest
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent as LibEvent
from support.waiting import wait_until_async

from zeroserve.local.component import PlatformContext
from zeroserve.local.eventing.component import BrokerComponent
from zeroserve.local.eventing.delivery import DEFAULT_DELIVERY, DeliveryPolicy
from zeroserve.local.eventing.triggers import TriggerRule, TriggerTable
from zeroserve.local.testing import platform_process

from .conftest import EventSink, serve
from .test_broker_crash import BROKER, broker_url, kubeconfig_token

TOKEN = "outage-token"


class FakeClock:
    """Wall-clock seconds that move only when the test says so."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


async def _quiet(broker: BrokerComponent, clock: FakeClock, deadline_s: float = 10.0) -> None:
    """Wait until no pending delivery is due at the fake time (every due attempt was made)."""
    assert broker.store is not None
    store = broker.store

    async def quiet() -> bool:
        return not await store.due(clock(), 1, set())

    await wait_until_async(quiet, deadline_s, what="every due delivery to be attempted", retry_on=())


@pytest.mark.slow
async def test_a_five_minute_outage_loses_nothing_with_the_default_delivery(tmp_path: Path) -> None:
    clock = FakeClock()
    sink = EventSink(reject_all=True, fail_status=503)  # the subscriber is down
    async with serve(sink) as sub:
        table = TriggerTable()
        table.add_broker("models", "default")
        table.add_trigger(TriggerRule("models", "default-delivery", "default", sub.url, {"source": "a"}))
        explicit = DeliveryPolicy.from_spec({"retry": 2, "backoffDelay": "PT1S"})
        table.add_trigger(TriggerRule("models", "explicit", "default", sub.url, {"source": "b"}, explicit))
        broker = BrokerComponent(table=table, reconcile=False, delivery_proxy=None, now=clock)
        ctx = PlatformContext(state_dir=tmp_path, kubeconfig=tmp_path / "kubeconfig", broker_token=TOKEN)
        await broker.start(ctx)
        assert broker.dispatcher is not None and broker.store is not None
        sent: dict[str, set[str]] = {"a": set(), "b": set()}
        try:
            async with httpx.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}) as client:
                for i in range(60):
                    source = "ab"[i % 2]
                    event = LibEvent(attributes={"type": "t", "source": source}, data={"i": i})
                    message = to_binary_event(event)
                    answer = await client.post(
                        f"{broker.url}/models/default", headers=message.headers, content=message.body
                    )
                    assert answer.status_code == 202
                    sent[source].add(event.get_id())
            outage_end = clock() + 300.0
            while clock() < outage_end:  # five minutes of fake time, one second at a time
                await _quiet(broker, clock)
                clock.t += 1.0
                broker.dispatcher.wake()
            await _quiet(broker, clock)
            assert not sink.events and sink.attempts > 30 * 30  # retried all along
            sink.reject_all = False  # the subscriber is back
            recovered_at = clock()
            while {e.get_id() for e in sink.events} != sent["a"]:
                waited = clock() - recovered_at
                assert waited <= (DEFAULT_DELIVERY.max_delay or 0), "a recovered sink waited too long"
                await _quiet(broker, clock)
                clock.t += 1.0
                broker.dispatcher.wake()
            counts = await broker.store.counts()
            letters = await broker.store.dead_letters("models", "default")
        finally:
            await broker.stop()
    assert counts == {"subscriber:done": 30, "subscriber:dead": 30}
    # explicit retry: 2 was honoured (3 attempts each) and nothing of it vanished: all 30 are stored
    assert {letter.event.id for letter in letters} == sent["b"]
    assert {letter.attempts for letter in letters} == {3}
    assert {letter.trigger for letter in letters} == {"models/explicit"}


@pytest.mark.e2e
@pytest.mark.slow
async def test_a_real_platform_rides_out_a_subscriber_outage(tmp_path: Path) -> None:
    """40 events/s for 4 s through ``zeroserve up``'s broker while the subscriber is down for 3 s."""
    sink = EventSink(reject_all=True, fail_status=503)
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
                      filter: {{attributes: {{type: outage}}}}
                      subscriber: {{uri: "{subscriber.url}"}}
                """),
            )
            url = await broker_url(platform)
            loop = asyncio.get_running_loop()
            ids: set[str] = set()
            async with httpx.AsyncClient(headers=kubeconfig_token(platform)) as client:
                started = loop.time()
                for i in range(160):
                    if i == 120:
                        sink.reject_all = False  # back after 3 s of the 4
                    await asyncio.sleep(max(0.0, started + i / 40 - loop.time()))
                    event = LibEvent(attributes={"type": "outage", "source": "t"}, data={"i": i})
                    message = to_binary_event(event)
                    answer = await client.post(url, headers=message.headers, content=message.body)
                    assert answer.status_code == 202
                    ids.add(event.get_id())
            await wait_until_async(  # the longest default wait is 10 s
                lambda: ids <= {e.get_id() for e in sink.events},
                30,
                what=f"all {len(ids)} events to be delivered",
                interval=0.1,
                retry_on=(),
            )
        finally:
            await asyncio.to_thread(manager.__exit__, None, None, None)
    assert len(ids) == 160
