"""The gateway app in-process (httpx.ASGITransport) in front of a small real upstream server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from zeroserve.local.engine.activator import Activator
from zeroserve.local.engine.gateway import REVISION_HEADER, Gateway
from zeroserve.local.engine.images import LaunchPlan
from zeroserve.local.engine.instances import Instance, InstanceState
from zeroserve.local.engine.routing import RouteEntry, RoutingTable


@dataclass
class Served:
    """A revision as the gateway sees it (the runtime's three attributes)."""

    activator: Activator
    timeout_seconds: float = 5.0
    unavailable: str | None = None
    seen: list[bytes] = field(default_factory=list)


async def _upstream(seen: list[bytes]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            seen.append(head + body)
            payload = b"echo:" + head.split(b" ")[1] + b":" + body
            writer.write(
                b"HTTP/1.1 200 OK\r\nx-up: 1\r\ncontent-length: %d\r\n\r\n%s" % (len(payload), payload)
            )
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Served, Gateway]]:
    seen: list[bytes] = []
    server = await _upstream(seen)
    inst = Instance(
        LaunchPlan(argv=["unused"], env={}, port=server.sockets[0].getsockname()[1]), tmp_path / "l"
    )
    inst.state = InstanceState.READY
    act = Activator("ns/svc-00001")
    act.add(inst)
    served = Served(act, seen=seen)
    gateway = Gateway(lambda ns, name: served if (ns, name) == ("ns", "svc-00001") else None)
    gateway.table = RoutingTable(
        [RouteEntry("ns", "svc", (("svc-00001", 100),)), RouteEntry("ns", "gone", (("gone-00001", 100),))]
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw")
    try:
        yield client, served, gateway
    finally:
        await client.aclose()
        gateway.pool.close()
        server.close()
        await server.wait_closed()


async def test_forwards_with_the_revision_header(setup: tuple[httpx.AsyncClient, Served, Gateway]) -> None:
    client, served, gateway = setup
    resp = await client.post(
        "/v1/models/m:predict?x=1", content=b"{}", headers={"Host": "svc.ns.example.com"}
    )
    assert resp.status_code == 200
    assert resp.text == "echo:/v1/models/m:predict?x=1:{}"
    assert resp.headers[REVISION_HEADER] == "svc-00001"
    assert resp.headers["x-up"] == "1"
    sent = served.seen[-1].lower()
    assert b"knative-serving-revision: svc-00001" in sent
    assert b"host: svc.ns.example.com" in sent
    assert gateway.responses[("ns", "svc-00001", 200)] == 1
    by_path = await client.get("/serving/ns/svc/v2/health/ready")
    assert by_path.text == "echo:/v2/health/ready:"


async def test_missing_routes_and_revisions(setup: tuple[httpx.AsyncClient, Served, Gateway]) -> None:
    client, served, _ = setup
    missing = await client.get("/", headers={"Host": "nothing.ns.example.com"})
    assert missing.status_code == 404 and "no route" in missing.text
    gone = await client.get("/", headers={"Host": "gone.ns.example.com"})
    assert gone.status_code == 503 and "is not running" in gone.text
    served.unavailable = "revision ns/svc-00001 cannot serve: image x cannot run locally"
    refused = await client.get("/", headers={"Host": "svc.ns.example.com"})
    assert refused.status_code == 503 and "cannot run locally" in refused.text
    assert (await client.get("/healthz")).status_code == 200


async def test_head_and_expect(setup: tuple[httpx.AsyncClient, Served, Gateway]) -> None:
    client, served, _ = setup
    head = await client.head("/abc", headers={"Host": "svc.ns.example.com"})
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(b"echo:/abc:"))
    after = await client.post(
        "/x", content=b"body", headers={"Host": "svc.ns.example.com", "Expect": "100-continue"}
    )
    assert after.text == "echo:/x:body"
    assert b"expect" not in served.seen[-1].lower()
