"""The logger's pipelined HTTP/1.1 client against real servers: uvicorn, and raw sockets for edge cases."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from zeroserve.logger.http1 import Http1Client

from .conftest import EventSink, serve

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    await reader.readexactly(length)
    return head


def binary_event(i: int) -> tuple[list[tuple[str, str]], bytes]:
    headers = [("ce-specversion", "1.0"), ("ce-id", str(i)), ("ce-type", "t"), ("ce-source", "s")]
    return [*headers, ("content-type", "application/json")], b'{"i": %d}' % i


async def test_a_pipelined_batch_reaches_uvicorn_in_order() -> None:
    sink = EventSink()
    async with serve(sink) as server:
        client = Http1Client(server.url + "/events")
        statuses = await client.post_many([client.encode(*binary_event(i)) for i in range(50)])
        again = await client.post(*binary_event(50))  # the kept connection is reused
        await client.aclose()
    assert statuses == [202] * 50 and again == 202
    assert [e.get_id() for e in sink.events] == [str(i) for i in range(51)]


async def test_unanswered_requests_are_reported_as_zero() -> None:
    async def answer_two_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await read_request(reader)
            writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async with raw_server(answer_two_then_close) as url:
        client = Http1Client(url)
        statuses = await client.post_many([client.encode(*binary_event(i)) for i in range(4)])
        await client.aclose()
    assert statuses == [202, 202, 0, 0]


async def test_chunked_answers_and_a_stale_keep_alive_connection() -> None:
    served = 0

    async def chunked_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        await read_request(reader)
        served += 1
        writer.write(b"HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\n4\r\nfail\r\n0\r\n\r\n")
        await writer.drain()
        writer.close()  # after answering as if keep-alive: the next send must reconnect

    async with raw_server(chunked_once) as url:
        client = Http1Client(url)
        first = await client.post(*binary_event(1))
        second = await client.post(*binary_event(2))
        await client.aclose()
    assert (first, second, served) == (500, 500, 2)


async def test_requests_through_a_proxy_use_the_absolute_form() -> None:
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append((await read_request(reader)).split(b"\r\n")[0])
        writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async with raw_server(proxy) as proxy_url:
        client = Http1Client(
            "http://broker-ingress.knative-eventing.svc.cluster.local/ns/default", proxy=proxy_url
        )
        assert await client.post(*binary_event(1)) == 202
        await client.aclose()
    assert seen == [b"POST http://broker-ingress.knative-eventing.svc.cluster.local/ns/default HTTP/1.1"]


async def test_a_refused_connection_is_zero() -> None:
    client = Http1Client("http://127.0.0.1:9/")
    assert await client.post_many([client.encode(*binary_event(1))]) == [0]


async def test_answers_split_anywhere_and_mixed_are_read_in_order() -> None:
    answers = (
        b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n" * 3
        + b"HTTP/1.1 503 Busy\r\ncontent-length: 4\r\n\r\nbusy"
        + b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n"
        + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        + b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n"
    )

    async def dribble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(7):
            await read_request(reader)
        for i in range(0, len(answers), 5):  # 5 bytes at a time: heads and bodies cut anywhere
            writer.write(answers[i : i + 5])
            await writer.drain()
            await asyncio.sleep(0)
        await read_request(reader)  # the connection was kept for the next batch
        writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async with raw_server(dribble) as url:
        client = Http1Client(url)
        statuses = await client.post_many([client.encode(*binary_event(i)) for i in range(7)])
        again = await client.post(*binary_event(7))
        await client.aclose()
    assert statuses == [202, 202, 202, 503, 202, 200, 202]
    assert again == 202
