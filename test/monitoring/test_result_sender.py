"""The detectors' result sender on a fake clock: an outage loses nothing, old results are dropped."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client import CollectorRegistry
from support.waiting import wait_until_async

from zeroserve.cloudevents import CloudEvent
from zeroserve.monitoring.sender import ResultSender


class Clock:
    """Fake time: ``sleep`` records the delay and moves time forward at once."""

    def __init__(self) -> None:
        self.now = 0.0
        self.delays: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def result(n: int) -> CloudEvent:
    attributes = {"specversion": "1.0", "id": str(n), "type": "t", "source": "s"}
    return CloudEvent(attributes=attributes, data=b"{}", datacontenttype="application/json")


def sender_for(
    clock: Clock, registry: CollectorRegistry, up_at: float, **options: object
) -> tuple[ResultSender, list[httpx.Request]]:
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if clock.now < up_at:
            return httpx.Response(503)
        received.append(request)
        return httpx.Response(202)

    sender = ResultSender(
        "http://sink.test/",
        registry=registry,
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        **options,
    )
    return sender, received


async def wait_until_drained(sender: ResultSender) -> None:
    await wait_until_async(lambda: not sender.depth, 10, what="the sender's queue to drain", retry_on=())


async def test_results_queued_during_an_outage_are_all_delivered_with_the_token() -> None:
    clock = Clock()
    registry = CollectorRegistry()
    sender, received = sender_for(clock, registry, up_at=80.0, token="s3cret")
    await sender.start()
    assert all(sender.submit(result(n)) for n in range(5))
    await wait_until_drained(sender)
    await sender.stop()
    assert [r.headers["ce-id"] for r in received] == ["0", "1", "2", "3", "4"]
    assert {r.headers["authorization"] for r in received} == {"Bearer s3cret"}
    assert max(clock.delays) == 5.0 and clock.delays[:3] == [0.1, 0.2, 0.4]
    assert registry.get_sample_value("zeroserve_detector_results_total", {"outcome": "sent"}) == 5


async def test_a_result_older_than_max_age_is_dropped_and_the_next_is_sent() -> None:
    clock = Clock()
    registry = CollectorRegistry()
    sender, received = sender_for(clock, registry, up_at=100.0, max_age=60.0, token="")
    await sender.start()
    sender.submit(result(0))
    await wait_until_drained(sender)
    sender.submit(result(1))
    await wait_until_drained(sender)
    await sender.stop()
    assert [r.headers["ce-id"] for r in received] == ["1"] and "authorization" not in received[0].headers
    assert registry.get_sample_value("zeroserve_detector_results_total", {"outcome": "max_age"}) == 1
