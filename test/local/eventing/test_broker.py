"""The broker (ingress + SQLite store + dispatcher) over real HTTP, with Triggers injected into its table.

These tests run the real ``BrokerComponent`` with ``reconcile=False`` and fill its routing table
directly; the reconciler against the API server is tested separately.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent as LibEvent
from support.waiting import wait_until_async

from zeroserve.cloudevents import CloudEvent
from zeroserve.local.component import PlatformContext
from zeroserve.local.eventing.component import BrokerComponent
from zeroserve.local.eventing.delivery import DeliveryPolicy
from zeroserve.local.eventing.store import EventStore
from zeroserve.local.eventing.triggers import TriggerRule, TriggerTable

from .conftest import EventSink, serve

FAST = DeliveryPolicy(retry=3, backoff_policy="linear", backoff_delay=0.05, timeout=5)
TOKEN = "broker-test-token"


def authorized() -> httpx.AsyncClient:
    """A client that presents the platform's broker token, as the payload logger does."""
    return httpx.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"})


@contextlib.asynccontextmanager
async def running_broker(state: Path, table: TriggerTable) -> AsyncIterator[BrokerComponent]:
    component = BrokerComponent(table=table, reconcile=False, delivery_proxy=None)
    ctx = PlatformContext(state_dir=state, kubeconfig=state / "kubeconfig", broker_token=TOKEN)
    await component.start(ctx)
    assert ctx.extra["broker_url"] == component.url
    try:
        yield component
    finally:
        await component.stop()


def table_with(*rules: TriggerRule, broker: tuple[str, str] = ("models", "default")) -> TriggerTable:
    table = TriggerTable()
    table.add_broker(*broker)
    for rule in rules:
        table.add_trigger(rule)
    return table


def rule(name: str, uri: str, filter: dict[str, str] | None = None, **delivery: object) -> TriggerRule:
    policy = DeliveryPolicy(**{**FAST.__dict__, **delivery})  # type: ignore[arg-type]
    return TriggerRule("models", name, "default", uri, filter or {}, policy)


def event(event_type: str = "org.kubeflow.serving.inference.request", **extensions: str) -> LibEvent:
    attrs = {"type": event_type, "source": "http://localhost:9081/", **extensions}
    return LibEvent(attributes=attrs, data={"instances": [[1.0, 2.0]]})


async def post_event(
    client: httpx.AsyncClient, url: str, ev: LibEvent, structured: bool = False
) -> httpx.Response:
    message = to_structured_event(ev) if structured else to_binary_event(ev)
    return await client.post(url, headers=message.headers, content=message.body)


async def test_ingress_accepts_binary_and_structured_and_rejects_the_rest(tmp_path: Path) -> None:
    sink = EventSink()
    async with (
        serve(sink) as sub,
        running_broker(tmp_path, table_with(rule("all", sub.url))) as broker,
        authorized() as c,
    ):
        url = f"{broker.url}/models/default"
        assert (await post_event(c, url, event())).status_code == 202
        assert (await post_event(c, url, event(), structured=True)).status_code == 202
        plain = await c.post(url, json={"instances": [[1]]})
        assert plain.status_code == 400 and "not a CloudEvent" in plain.json()["error"]
        missing = await c.post(url, headers={"ce-specversion": "1.0", "ce-type": "t"}, content=b"{}")
        assert missing.status_code == 400 and "id" in missing.json()["error"]
        unknown = await post_event(c, f"{broker.url}/models/nope", event())
        assert unknown.status_code == 404
        received = await sink.wait_for(2)
    assert all(e.get_data() == {"instances": [[1.0, 2.0]]} for e in received)
    assert all(e.get_extension("knativebrokerttl") is None for e in received)  # internal to the broker
    assert all(e.get_extension("knativearrivaltime") for e in received)


async def test_triggers_filter_by_exact_attribute_and_presence(tmp_path: Path) -> None:
    requests, responses, tagged = EventSink(), EventSink(), EventSink()
    async with serve(requests) as a, serve(responses) as b, serve(tagged) as t:
        table = table_with(
            rule("req", a.url, {"type": "org.kubeflow.serving.inference.request"}),
            rule(
                "resp", b.url, {"type": "org.kubeflow.serving.inference.response", "component": "predictor"}
            ),
            rule("tag", t.url, {"inferenceservicename": ""}),
        )
        async with running_broker(tmp_path, table) as broker, authorized() as c:
            url = f"{broker.url}/models/default"
            await post_event(c, url, event())
            await post_event(c, url, event("org.kubeflow.serving.inference.response", component="predictor"))
            await post_event(c, url, event("org.kubeflow.serving.inference.response", component="other"))
            await post_event(c, url, event(inferenceservicename="iris"))
            await requests.wait_for(2)
            await responses.wait_for(1)
            await tagged.wait_for(1)
            await _settle(broker)
    assert len(requests.events) == 2 and len(responses.events) == 1 and len(tagged.events) == 1
    assert tagged.events[0].get_extension("inferenceservicename") == "iris"


async def test_failed_deliveries_are_retried_with_backoff(tmp_path: Path) -> None:
    sink = EventSink(fail_first=2, fail_status=503)
    async with serve(sink) as sub:
        table = table_with(rule("r", sub.url, backoff_delay=0.2, backoff_policy="exponential"))
        async with running_broker(tmp_path, table) as broker, authorized() as c:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await post_event(c, f"{broker.url}/models/default", event())
            await sink.wait_for(1)
            elapsed = loop.time() - started
            await _settle(broker)
            assert broker.store is not None
            counts = await broker.store.counts()
    assert sink.attempts == 3
    assert elapsed >= 0.2 * 2 + 0.2 * 4  # exponential: delay * 2**n before retries 1 and 2
    assert counts == {"subscriber:done": 1}


async def test_exhausted_retries_and_final_errors_go_to_the_dead_letter_sink(tmp_path: Path) -> None:
    failing, final, dls = (
        EventSink(reject_all=True, fail_status=500),
        EventSink(reject_all=True, fail_status=400),
        EventSink(),
    )
    async with serve(failing) as f, serve(final) as g, serve(dls) as d:
        table = table_with(
            rule("flaky", f.url, {"source": "a"}, retry=2, dead_letter_uri=d.url),
            rule("bad", g.url, {"source": "b"}, retry=5, dead_letter_uri=d.url),
        )
        async with running_broker(tmp_path, table) as broker, authorized() as c:
            url = f"{broker.url}/models/default"
            await post_event(c, url, LibEvent(attributes={"type": "t", "source": "a"}, data={"x": 1}))
            await post_event(c, url, LibEvent(attributes={"type": "t", "source": "b"}, data={"x": 2}))
            letters = await dls.wait_for(2)
    assert failing.attempts == 3  # retry=2: three attempts
    assert final.attempts == 1  # 400 is final: no retries
    by_source = {e.get_source(): e for e in letters}
    assert by_source["a"].get_extension("knativeerrorcode") == "500"
    assert by_source["a"].get_extension("knativeerrordest") == f.url
    assert by_source["b"].get_extension("knativeerrorcode") == "400"


def _reply_with(event_type: str) -> object:
    def reply(received: BaseCloudEvent) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        out = LibEvent(
            attributes={"type": event_type, "source": "detector"}, data={"reply_to": received.get_id()}
        )
        message = to_binary_event(out)
        headers = [(k.encode(), v.encode()) for k, v in message.headers.items()]
        return 200, headers, message.body

    return reply


async def test_replies_are_reingested_into_the_originating_broker(tmp_path: Path) -> None:
    detector = EventSink()
    detector.reply = _reply_with("org.kubeflow.serving.inference.drift")  # type: ignore[assignment]
    display = EventSink()
    async with serve(detector) as det, serve(display) as disp:
        table = table_with(
            rule("to-detector", det.url, {"type": "org.kubeflow.serving.inference.request"}),
            rule("to-display", disp.url, {"type": "org.kubeflow.serving.inference.drift"}),
        )
        async with running_broker(tmp_path, table) as broker, authorized() as c:
            sent = event()
            await post_event(c, f"{broker.url}/models/default", sent)
            (reply,) = await display.wait_for(1)
    assert reply.get_source() == "detector"
    assert reply.get_data() == {"reply_to": sent.get_id()}


async def test_ttl_guard_ends_reply_loops(tmp_path: Path) -> None:
    echo = EventSink()
    echo.reply = _reply_with("loop")  # type: ignore[assignment]
    async with (
        serve(echo) as sub,
        running_broker(tmp_path, table_with(rule("loop", sub.url, {"type": "loop"}))) as broker,
        authorized() as c,
    ):
        url = f"{broker.url}/models/default"
        spent = await post_event(c, url, event("loop", knativebrokerttl="0"))
        assert spent.status_code == 400 and "loop guard" in spent.json()["error"]
        assert (await post_event(c, url, event("loop", knativebrokerttl="3"))).status_code == 202
        await echo.wait_for(3)
        await _settle(broker)
    assert len(echo.events) == 3  # ttl 3 -> 2 -> 1 -> reply with ttl 0 is dropped


async def test_every_accepted_event_is_delivered_across_a_broker_restart(tmp_path: Path) -> None:
    sink = EventSink(reject_all=True, fail_status=503)  # the subscriber is down while the first broker runs
    total = 40
    async with serve(sink) as sub:
        table = table_with(rule("r", sub.url, retry=100, backoff_delay=0.05))
        ids = []
        async with running_broker(tmp_path, table) as broker, authorized() as c:
            for _ in range(total):
                ev = event()
                ids.append(ev.get_id())
                assert (await post_event(c, f"{broker.url}/models/default", ev)).status_code == 202
            await sink.wait_for_attempts(total)  # every event was tried and is still pending
        sink.reject_all = False
        # a new broker on the same state folder resumes the stored deliveries
        async with running_broker(tmp_path, table):
            await wait_until_async(  # duplicates may come first
                lambda: {e.get_id() for e in sink.events} == set(ids),
                20,
                what=f"all {total} stored deliveries to be resumed",
                interval=0.05,
                retry_on=(),
            )


async def _settle(broker: BrokerComponent, deadline_s: float = 10.0) -> None:
    """Wait until no delivery is pending (poll with a deadline)."""
    assert broker.store is not None
    store = broker.store

    async def settled() -> bool:
        return not any(key.endswith(":pending") for key in await store.counts())

    await wait_until_async(settled, deadline_s, what="no delivery pending", interval=0.05, retry_on=())


def test_structured_reply_helper_is_json() -> None:
    # guards the test helper itself: replies are real CloudEvents the library can read back
    reply = _reply_with("x")(event())  # type: ignore[operator]
    assert reply[0] == 200 and orjson.loads(reply[2])["reply_to"]


async def test_cluster_addresses_are_delivered_through_the_gateway_proxy(tmp_path: Path) -> None:
    lines: list[bytes] = []

    async def gateway(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        lines.append(head.split(b"\r\n")[0])
        writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(gateway, "127.0.0.1", 0)
    gateway_port = server.sockets[0].getsockname()[1]
    table = table_with(rule("cluster", "http://display.models.svc.cluster.local/"))
    component = BrokerComponent(table=table, reconcile=False)  # default: deliver via the platform gateway
    ctx = PlatformContext(
        state_dir=tmp_path, kubeconfig=tmp_path / "kubeconfig", gateway_port=0, broker_token=TOKEN
    )
    await component.start(ctx)
    ctx.gateway_port = gateway_port  # the gateway binds after the broker started
    try:
        async with authorized() as c:
            assert (await post_event(c, f"{component.url}/models/default", event())).status_code == 202
        await _settle(component)
    finally:
        await component.stop()
        server.close()
        await server.wait_closed()
    assert lines == [b"POST http://display.models.svc.cluster.local/ HTTP/1.1"]


async def test_finished_events_are_purged_and_pending_ones_kept(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "broker.db")
    await store.open()
    try:
        old = CloudEvent({"specversion": "1.0", "id": "1", "source": "s", "type": "t"})
        await store.accept("ns", "default", old, ["ns/a"], now=100.0)
        await store.accept("ns", "default", old, ["ns/a"], now=100.0)
        await store.accept("ns", "default", old, ["ns/a"], now=500.0)
        first, second, recent = await store.due(1000.0, 10, set())
        for delivery in (first, recent):
            await store.finish(delivery.id, "done", 202)
        assert await store.purge(before=200.0) == 1  # old and finished; the pending one stays
        assert await store.counts() == {"subscriber:pending": 1, "subscriber:done": 1}
        assert [d.id for d in await store.due(1000.0, 10, set())] == [second.id]
    finally:
        await store.close()


async def test_concurrent_accepts_share_commits_and_each_gets_its_own_event(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "broker.db")
    await store.open()
    try:
        events = [
            CloudEvent({"specversion": "1.0", "id": str(i), "source": "s", "type": "t"}) for i in range(50)
        ]
        seqs = await asyncio.gather(*(store.accept("ns", "default", e, ["ns/a"], now=1.0) for e in events))
        due = await store.due(2.0, 100, set())
    finally:
        await store.close()
    assert len(set(seqs)) == 50
    assert sorted(d.event.id for d in due) == sorted(str(i) for i in range(50))


async def test_the_ingress_takes_events_only_with_the_platform_token(tmp_path: Path) -> None:
    sink = EventSink()
    async with (
        serve(sink) as sub,
        running_broker(tmp_path, table_with(rule("all", sub.url))) as broker,
        httpx.AsyncClient() as anonymous,
        authorized() as c,
    ):
        url = f"{broker.url}/models/default"
        refused = await post_event(anonymous, url, event())
        assert refused.status_code == 401 and "Bearer" in refused.json()["error"]
        assert refused.headers["www-authenticate"].startswith("Bearer")
        wrong = await anonymous.post(url, headers={"authorization": "Bearer nope"}, content=b"{}")
        basic = await anonymous.post(url, headers={"authorization": f"Basic {TOKEN}"}, content=b"{}")
        assert wrong.status_code == basic.status_code == 401
        assert (await anonymous.get(f"{url}/deadletters")).status_code == 401
        assert (await anonymous.get(f"{broker.url}/healthz")).status_code == 200
        assert (await post_event(c, url, event())).status_code == 202
        await sink.wait_for(1)
        metrics = (await anonymous.get(f"{broker.url}/metrics")).text
    assert 'zeroserve_broker_events_rejected_total{reason="unauthorized"} 3.0' in metrics
    assert len(sink.events) == 1


async def test_events_given_up_on_are_kept_in_the_dead_letter_store(tmp_path: Path) -> None:
    sink = EventSink(reject_all=True, fail_status=400)  # a final answer: no retries, no dead-letter sink
    async with (
        serve(sink) as sub,
        running_broker(tmp_path, table_with(rule("strict", sub.url))) as broker,
        authorized() as c,
    ):
        sent = event()
        assert (await post_event(c, f"{broker.url}/models/default", sent)).status_code == 202
        await _settle(broker)
        listing = (await c.get(f"{broker.url}/models/default/deadletters")).json()["items"]
        metrics = (await c.get(f"{broker.url}/metrics")).text
        assert broker.store is not None
        assert await broker.store.purge(before=1e12, dead_before=0.0) == 0  # kept past normal retention
    assert [(item["trigger"], item["attempts"], item["lastStatus"]) for item in listing] == [
        ("models/strict", 1, 400)
    ]
    assert listing[0]["event"]["id"] == sent.get_id()
    assert listing[0]["event"]["data"] == {"instances": [[1.0, 2.0]]}
    assert "zeroserve_broker_dead_letters_stored 1.0" in metrics
    assert (
        'zeroserve_broker_dead_letters_total{broker="default",namespace="models",trigger="models/strict"} 1.0'
        in metrics
    )
    # a restarted broker still has it, and still counts it
    async with running_broker(tmp_path, table_with(rule("strict", sub.url))) as again, authorized() as c:
        assert len((await c.get(f"{again.url}/models/default/deadletters")).json()["items"]) == 1
        assert "zeroserve_broker_dead_letters_stored 1.0" in (await c.get(f"{again.url}/metrics")).text


async def test_state_files_are_private(tmp_path: Path) -> None:
    async with running_broker(tmp_path, table_with()) as broker, authorized() as c:
        await post_event(c, f"{broker.url}/models/default", event())
        folder = tmp_path / "eventing"
        modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    assert folder.stat().st_mode & 0o777 == 0o700
    assert modes and set(modes.values()) == {0o600}, modes
