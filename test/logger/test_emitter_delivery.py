"""The emitter's delivery guarantee on a fake clock: a sink that is down then up loses nothing.

The sink is an ``httpx.MockTransport`` (the emitter's transport seam) whose answers depend on the
fake time; the emitter's retry delays are :class:`FakeClock` sleeps, so a 30 s outage and a
10 minute maximum age take no real time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

import httpx
import pytest
from prometheus_client import CollectorRegistry

from zeroserve.logger.config import LoggerConfig
from zeroserve.logger.emitter import PayloadLogger, retry_delay
from zeroserve.logger.encoding import KIND_REQUEST, KIND_RESPONSE

REQUEST = "org.kubeflow.serving.inference.request"
RESPONSE = "org.kubeflow.serving.inference.response"


class FakeClock:
    """Time that moves only when the test advances it; sleepers wake in order of their deadline."""

    def __init__(self) -> None:
        self.now = 0.0
        self.delays: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), wake))
        await wake

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking each sleeper at its deadline and letting it run."""
        await settle()  # first let what is runnable now run at the present time
        end = self.now + seconds
        while self._sleepers and self._sleepers[0][0] <= end:
            when, _, wake = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            if not wake.done():
                wake.set_result(None)
            await settle()
        self.now = end
        await settle()


async def settle() -> None:
    """Let every task that can run do so (the mock transport never waits on real time)."""
    for _ in range(100):
        await asyncio.sleep(0)


class OutageSink:
    """A CloudEvents sink that refuses connections while ``clock.now`` is inside ``down``."""

    def __init__(self, clock: FakeClock, down: tuple[float, float]) -> None:
        self.clock = clock
        self.down = down
        self.received: list[str] = []
        self.authorization: set[str | None] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        start, end = self.down
        if start <= self.clock.now < end:
            raise httpx.ConnectError("connection refused", request=request)
        self.received.append(request.headers["ce-id"])
        self.authorization.add(request.headers.get("authorization"))
        return httpx.Response(202)


def emitter_for(
    clock: FakeClock, sink: OutageSink, **overrides: object
) -> tuple[PayloadLogger, CollectorRegistry]:
    fields: dict[str, object] = {"url": "http://sink.test/", "batch_linger": 0, "broker_token": None}
    fields.update(overrides)
    registry = CollectorRegistry()
    emitter = PayloadLogger(
        LoggerConfig.model_validate(fields),
        registry=registry,
        transport=httpx.MockTransport(sink),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
    return emitter, registry


def log_inference(emitter: PayloadLogger, event_id: str) -> None:
    for kind in (KIND_REQUEST, KIND_RESPONSE):
        assert emitter.log(kind, event_id, 0, 200, b'{"instances": [[1]]}', "application/json", None)


def counter(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(f"zeroserve_logger_events_{name}_total", labels) or 0.0


def dropped(registry: CollectorRegistry) -> float:
    """Every event given up on, whatever the reason."""
    return sum(
        sample.value
        for metric in registry.collect()
        if metric.name == "zeroserve_logger_events_dropped"
        for sample in metric.samples
    )


async def test_a_30s_outage_at_40_requests_per_second_loses_no_event() -> None:
    """Issue #16's scenario: 2,400 events logged while the sink is down, every one delivered after."""
    clock = FakeClock()
    sink = OutageSink(clock, down=(0.0, 30.0))
    emitter, registry = emitter_for(clock, sink)
    await emitter.start()
    ids = []
    for second in range(30):
        for n in range(40):
            ids.append(f"{second}-{n}")
            log_inference(emitter, ids[-1])
        await clock.advance(1.0)
    assert sink.received == []
    await clock.advance(5.0)  # the sink is up from t=30: every sender tries within backoff_max (5 s)
    assert sorted(sink.received) == sorted(ids * 2)
    await emitter.stop()
    assert sorted(sink.received) == sorted(ids * 2)
    assert dropped(registry) == 0
    assert counter(registry, "sent", type=REQUEST) == counter(registry, "sent", type=RESPONSE) == 1200
    assert counter(registry, "retried", type=REQUEST) > 0
    assert max(clock.delays) == 5.0


def test_retry_delays_double_up_to_the_cap() -> None:

    delays = [retry_delay(n, 0.1, 30.0) for n in range(1, 13)]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-3:] == [30.0, 30.0, 30.0]
    assert delays == sorted(delays)


async def test_events_older_than_max_age_are_dropped_and_counted() -> None:
    clock = FakeClock()
    sink = OutageSink(clock, down=(0.0, 1e9))
    emitter, registry = emitter_for(clock, sink, max_age=600.0)
    await emitter.start()
    log_inference(emitter, "old")
    await clock.advance(300.0)
    log_inference(emitter, "younger")
    # Tries every 5 s once the backoff is capped: the first try after t=600 finds "old" too old.
    await clock.advance(331.0)
    assert counter(registry, "dropped", reason="max_age") == 2  # "younger" (331 s) is still retried
    await clock.advance(330.0)
    assert counter(registry, "dropped", reason="max_age") == 4
    assert emitter.depth == 0 and sink.received == []
    await emitter.stop()
    assert dropped(registry) == 4  # nothing counted twice, nothing counted as shutdown


async def test_max_attempts_still_limits_the_tries_when_set() -> None:
    clock = FakeClock()
    sink = OutageSink(clock, down=(0.0, 1e9))
    emitter, registry = emitter_for(clock, sink, max_attempts=3, workers=1)
    await emitter.start()
    log_inference(emitter, "a")
    await settle()
    await clock.advance(10.0)
    await emitter.stop()
    assert counter(registry, "dropped", reason="retries_exhausted") == 2
    assert clock.delays == [0.1, 0.2]


async def test_only_a_full_queue_drops_during_an_outage_and_the_rest_is_delivered() -> None:
    clock = FakeClock()
    sink = OutageSink(clock, down=(0.0, 5.0))
    emitter, registry = emitter_for(clock, sink, queue_size=10, workers=1, batch_size=4)
    await emitter.start()

    def submit(n: int) -> bool:
        return emitter.log(KIND_REQUEST, str(n), 0, 0, b"{}", "application/json", None)

    accepted = [submit(n) for n in range(8)]
    await settle()  # the sender holds 4 of them, retrying; 4 wait in the queue
    accepted += [submit(n) for n in range(8, 20)]
    assert accepted == [True] * 14 + [False] * 6
    await clock.advance(40.0)
    await emitter.stop()
    assert sorted(map(int, sink.received)) == list(range(14))
    assert dropped(registry) == counter(registry, "dropped", reason="queue_full") == 6


async def test_the_broker_token_is_sent_with_every_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEROSERVE_BROKER_TOKEN", "s3cret")
    assert LoggerConfig(url="http://sink.test/").broker_token == "s3cret"
    assert "s3cret" not in repr(LoggerConfig(url="http://sink.test/"))
    clock = FakeClock()
    sink = OutageSink(clock, down=(0.0, 0.0))
    emitter, _ = emitter_for(clock, sink, broker_token="s3cret")
    await emitter.start()
    log_inference(emitter, "a")
    await clock.advance(1.0)
    await emitter.stop()
    assert len(sink.received) == 2 and sink.authorization == {"Bearer s3cret"}
