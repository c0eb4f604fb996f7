"""The tracing module, the local OTLP receiver and ``zeroserve traces``, on real sockets.

Spans are made with the real SDK and exported over real OTLP/HTTP (protobuf) to an in-process
receiver; the JSON encoding is posted by hand as OTel's spec writes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from zeroserve.cli import main as zeroserve_main
from zeroserve.cloudevents import CloudEvent, trace_context
from zeroserve.local.traces.receiver import TraceReceiver
from zeroserve.local.traces.render import render_tree
from zeroserve.process import tracing


@contextlib.asynccontextmanager
async def receiver_with_tracing() -> AsyncIterator[TraceReceiver]:
    receiver = TraceReceiver(max_traces=3)
    url = await receiver.start()
    try:
        assert tracing.configure("test-service", env={"OTEL_EXPORTER_OTLP_ENDPOINT": url})
        try:
            yield receiver
        finally:
            await asyncio.to_thread(tracing.shutdown)
    finally:
        await receiver.stop()


def test_off_without_an_endpoint_and_span_is_a_shared_noop() -> None:
    assert tracing.traces_endpoint({}) is None
    assert (
        tracing.traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318/"})
        == "http://h:4318/v1/traces"
    )
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b/t"}
    assert tracing.traces_endpoint(env) == "http://b/t"
    assert tracing.traces_endpoint({**env, "OTEL_SDK_DISABLED": "true"}) is None
    assert not tracing.configure(env={})
    assert not tracing.enabled()
    assert tracing.span("a") is tracing.span("b", kind="server", attributes={"x": 1})
    with tracing.span("a") as current:
        assert current is None
    headers: dict[str, str] = {}
    tracing.inject(headers)
    assert headers == {}
    assert tracing.extract({"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}) is None
    assert tracing.current_trace_id() is None


async def test_spans_are_exported_parent_linked_and_continue_a_remote_parent() -> None:
    remote_trace, remote_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    async with receiver_with_tracing() as receiver:
        parent = tracing.extract([(b"traceparent", f"00-{remote_trace}-{remote_span}-01".encode())])
        with tracing.span("outer", kind="server", attributes={"zeroserve.model": "m"}, parent=parent):
            assert tracing.current_trace_id() == remote_trace
            with tracing.span("inner"):
                carrier: dict[str, str] = {}
                tracing.inject(carrier)
            with pytest.raises(ValueError), tracing.span("failing"):
                raise ValueError("boom")
        assert await asyncio.to_thread(tracing.flush)
        spans = {s.name: s for s in receiver.store.trace(remote_trace)}
    assert set(spans) == {"outer", "inner", "failing"}
    assert spans["outer"].parent_id == remote_span and spans["outer"].kind == "server"
    assert spans["outer"].service == "test-service" and spans["outer"].attributes == {"zeroserve.model": "m"}
    assert spans["inner"].parent_id == spans["outer"].span_id
    assert carrier["traceparent"] == f"00-{remote_trace}-{spans['inner'].span_id}-01"
    assert spans["failing"].status == "error"
    tree = render_tree([s.to_json() for s in receiver.store.trace(remote_trace)])
    lines = tree.splitlines()
    assert lines[0].startswith(f"trace {remote_trace}  3 spans")
    assert "outer" in lines[1] and "\n" not in lines[1]
    assert "  inner" in lines[2] and "[test-service]" in lines[2]
    assert "ERROR" in lines[3]


async def test_receiver_takes_otlp_json_keeps_the_last_traces_and_rejects_bad_bodies() -> None:
    receiver = TraceReceiver(max_traces=2)
    url = await receiver.start()
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for n in range(3):
                doc = {
                    "resourceSpans": [
                        {
                            "resource": {
                                "attributes": [{"key": "service.name", "value": {"stringValue": "j"}}]
                            },
                            "scopeSpans": [
                                {
                                    "spans": [
                                        {
                                            "traceId": f"{n:032x}",
                                            "spanId": f"{n + 1:016x}",
                                            "name": f"root{n}",
                                            "kind": 2,
                                            "startTimeUnixNano": "1000",
                                            "endTimeUnixNano": str(2_000_000 + n),
                                            "attributes": [{"key": "n", "value": {"intValue": str(n)}}],
                                        }
                                    ]
                                }
                            ],
                        }
                    ]
                }
                assert (await client.post("/v1/traces", json=doc)).status_code == 200
            listed = (await client.get("/api/traces")).json()["traces"]
            assert [t["root"] for t in listed] == ["root2", "root1"]  # newest first, the oldest dropped
            one = (await client.get(f"/api/traces/{2:032x}")).json()["spans"][0]
            assert one["kind"] == "server" and one["attributes"] == {"n": 2} and one["service"] == "j"
            bad = await client.post(
                "/v1/traces", content=b"\xff\x00", headers={"content-type": "application/x-protobuf"}
            )
            assert bad.status_code == 400 and "protobuf" in bad.json()["error"]
            bad = await client.post("/v1/traces", json={"resourceSpans": [{"scopeSpans": [{"spans": [{}]}]}]})
            assert bad.status_code == 400 and "spans[0]" in bad.json()["error"]
            wrong = await client.post("/v1/traces", content=b"x", headers={"content-type": "text/plain"})
            assert wrong.status_code == 415
            assert (await client.get("/api/traces/" + "f" * 32)).status_code == 404
            listing = await asyncio.to_thread(_cli, ["traces", "--url", url])
            tree = await asyncio.to_thread(_cli, ["traces", "--url", url, f"{1:032x}"])
            unknown = await asyncio.to_thread(_cli, ["traces", "--url", url, "f" * 32])
    finally:
        await receiver.stop()
    assert listing[0] == 0 and listing[1].splitlines()[0].startswith("TRACE ID")
    assert f"{2:032x}" in listing[1] and "root2 [j]" in listing[1]
    assert tree[0] == 0 and "root1" in tree[1] and "2.00 ms" in tree[1]
    assert unknown[0] == 1


def _cli(argv: list[str]) -> tuple[int, str]:
    import io
    from contextlib import redirect_stderr, redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        code = zeroserve_main(argv)
    return code, out.getvalue()


def test_cloudevents_trace_context_is_the_distributed_tracing_extension() -> None:
    event = CloudEvent({"id": "1", "source": "s", "specversion": "1.0", "type": "t", "traceparent": "tp"})
    assert trace_context(event) == {"traceparent": "tp"}
    assert trace_context(CloudEvent({"id": "1"})) == {}


def test_a_dropped_span_has_no_children_but_still_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    assert tracing.configure(endpoint="http://127.0.0.1:9/v1/traces")  # nothing is ever exported
    try:
        with tracing.span("server", kind="server") as server:
            assert server is not None and not server.is_recording()
            assert tracing.span("child") is tracing.span("other")  # the shared no-op
            carrier: dict[str, str] = {}
            tracing.inject(carrier)
        remote = tracing.extract({"traceparent": f"00-{'a' * 32}-{'b' * 16}-00"})
        with tracing.span("continued", parent=remote):
            carrier = {}
            tracing.inject(carrier)
    finally:
        tracing.shutdown()
    assert carrier["traceparent"].startswith(f"00-{'a' * 32}-") and carrier["traceparent"].endswith("-00")
