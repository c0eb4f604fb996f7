"""A small, fast HTTP/1.1 client for the gateway's hop to instances and local upstreams.

The gateway adds one hop to every request, so the hop is kept cheap: pooled keep-alive
connections per ``(host, port)``, an :class:`asyncio.Protocol` with ``httptools``' C parser for the
response, and no per-request objects beyond the response itself. A request body already in hand is
written in one go; a :class:`StreamedBody` (a large upload still arriving) is written chunk by chunk
as it arrives, over a fresh connection, with the writer paused while the upstream's socket is full.
Responses are read whole (inference payloads are small); chunked and ``text/event-stream`` responses
are streamed chunk by chunk instead. A request that fails on a reused connection before any response
byte arrives is retried once on a fresh one (the instance may have closed an idle connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import httptools

__all__ = ["StreamedBody", "UpstreamError", "UpstreamPool", "UpstreamResponse"]


class StreamedBody(Protocol):
    """A request body still arriving, forwarded as it comes instead of being held whole."""

    @property
    def length(self) -> int | None:
        """The body's size when the client announced it (``content-length``), else ``None`` (chunked)."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body's pieces in order; may raise to abort the request (the connection is closed)."""
        ...


class UpstreamError(Exception):
    """The upstream could not be reached or closed the connection before answering."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent
        """Whether any of the request may have reached the upstream's application."""


@dataclass
class UpstreamResponse:
    """An upstream response: complete, or streaming (``stream`` set, ``body`` empty)."""

    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    stream: asyncio.Queue[bytes | UpstreamError | None] | None = None
    """For chunked and event-stream responses: body chunks as they arrive, then ``None`` (end) or
    an :class:`UpstreamError` (the upstream went away mid-stream)."""
    abandon: Callable[[], None] = lambda: None
    """Call when giving up on a stream before its end (closes the connection)."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response = UpstreamResponse()
        self._body: list[bytes] = []
        self._done: asyncio.Future[UpstreamResponse] | None = None
        self._header_name = b""
        self.closed = False
        self.received = False
        self.head_request = False
        self.keep = True
        self.streaming = False
        self.stream_ended = False
        self.on_stream_end: Callable[[], None] | None = None
        self._paused = False
        self._drained: asyncio.Future[None] | None = None

    # protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.resume_writing()
        if self.streaming and self.response.stream is not None:
            self.streaming = False
            self.response.stream.put_nowait(UpstreamError(f"upstream closed mid-response: {exc}", sent=True))
        done = self._done
        if done is not None and not done.done():
            done.set_exception(UpstreamError(f"upstream closed the connection: {exc or 'EOF'}", sent=True))

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    async def drain(self) -> None:
        """Wait while the transport's buffer is over its high-water mark."""
        if self._paused and not self.closed:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass
        except httptools.HttpParserError as err:
            done = self._done
            if done is not None and not done.done():
                done.set_exception(UpstreamError(f"bad response from upstream: {err}", sent=True))
            if self.transport is not None:
                self.transport.close()

    # parser callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.response.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        if self.streaming:
            assert self.response.stream is not None
            self.response.stream.put_nowait(bytes(body))
        else:
            self._body.append(body)

    def on_headers_complete(self) -> None:
        if self.head_request:
            # a response to HEAD has no body whatever its content-length says; the parser cannot be
            # told, so finish here and do not reuse the connection
            self.keep = False
            self.on_message_complete()
            return
        resp = self.response
        sized = any(k == b"content-length" for k, _ in resp.headers)
        events = any(k == b"content-type" and v.startswith(b"text/event-stream") for k, v in resp.headers)
        if not sized or events:
            self.streaming = True
            resp.status = self.parser.get_status_code()
            resp.stream = asyncio.Queue()
            done = self._done
            if done is not None and not done.done():
                done.set_result(resp)

    def on_message_complete(self) -> None:
        if self.streaming:
            self.streaming = False
            self.stream_ended = True
            assert self.response.stream is not None
            self.response.stream.put_nowait(None)
            if self.on_stream_end is not None:
                self.on_stream_end()
            return
        resp = self.response
        resp.status = self.parser.get_status_code()
        resp.body = b"".join(self._body)
        done = self._done
        if done is not None and not done.done():
            done.set_result(resp)

    def abandon(self) -> None:
        """Drop a response still streaming (the client went away): close the connection."""
        if self.streaming and self.transport is not None:
            self.streaming = False
            self.transport.close()

    def _begin(self, head: bool) -> asyncio.Future[UpstreamResponse]:
        self.head_request = head
        self.on_stream_end = None
        self.stream_ended = False
        self.response = UpstreamResponse()
        self._body = []
        self.received = False
        self._done = done = asyncio.get_running_loop().create_future()
        return done

    async def exchange(self, data: bytes, *, head: bool = False) -> UpstreamResponse:
        done = self._begin(head)
        assert self.transport is not None
        self.transport.write(data)
        return await done

    async def exchange_streamed(
        self, head_bytes: bytes, body: StreamedBody, *, head: bool
    ) -> UpstreamResponse:
        """Write the request head, then the body as it arrives (chunked when its length is unknown)."""
        done = self._begin(head)
        transport = self.transport
        assert transport is not None
        chunked = body.length is None
        transport.write(head_bytes)
        try:
            async for chunk in body.chunks():
                if done.done() or self.closed:
                    # the upstream answered (or went away) before the whole body: do not reuse
                    self.keep = False
                    break
                if chunk:
                    transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                    await self.drain()
            else:
                if chunked:
                    transport.write(b"0\r\n\r\n")
        except BaseException:
            self.keep = False
            transport.close()
            if not done.done():
                done.cancel()
            elif not done.cancelled():
                done.exception()  # retrieved: the body's own error is the one to report
            raise
        return await done


_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
        b"content-length",
        b"host",
    }
)


class UpstreamPool:
    """Keep-alive connections to upstreams, reused across requests."""

    def __init__(self, max_idle_per_host: int = 256) -> None:
        """Create an empty pool.

        Args:
            max_idle_per_host: idle connections kept per upstream.
        """
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._max_idle = max_idle_per_host

    async def _connect(self, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(_Connection, host, port)
        except OSError as err:
            raise UpstreamError(f"cannot connect to {host}:{port}: {err}", sent=False) from err
        return conn

    async def request(
        self,
        host: str,
        port: int,
        method: str,
        target: bytes,
        headers: Iterable[tuple[bytes, bytes]],
        body: bytes | StreamedBody,
        host_header: bytes,
    ) -> UpstreamResponse:
        """Send one request and read the whole response.

        Args:
            host: the upstream's address.
            port: its port.
            method: the HTTP method.
            target: the request target (path and query).
            headers: request headers (hop-by-hop ones, ``host`` and ``content-length`` are dropped).
            body: the request body: bytes, or a :class:`StreamedBody` written as it arrives (over a
                fresh connection; whatever its ``chunks`` raise is raised here, the connection closed).
            host_header: the ``Host`` to send.

        Returns:
            The response.

        Raises:
            UpstreamError: when the upstream cannot be reached or drops the connection.
        """
        parts = [method.encode(), b" ", target, b" HTTP/1.1\r\nhost: ", host_header, b"\r\n"]
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                parts += [name, b": ", value, b"\r\n"]
        head = method == "HEAD"
        key = (host, port)
        if not isinstance(body, bytes):
            length = body.length
            if length is None:
                parts.append(b"transfer-encoding: chunked\r\n\r\n")
            else:
                parts += [b"content-length: ", str(length).encode(), b"\r\n\r\n"]
            conn = await self._connect(host, port)
            resp = await conn.exchange_streamed(b"".join(parts), body, head=head)
            self._settle(key, conn, resp)
            return resp
        parts += [b"content-length: ", str(len(body)).encode(), b"\r\n\r\n", body]
        data = b"".join(parts)
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.closed:
                continue
            try:
                resp = await conn.exchange(data, head=head)
            except UpstreamError:
                if conn.received:
                    raise
                continue  # a stale keep-alive connection: try another
            self._settle(key, conn, resp)
            return resp
        conn = await self._connect(host, port)
        resp = await conn.exchange(data, head=head)
        self._settle(key, conn, resp)
        return resp

    def _settle(self, key: tuple[str, int], conn: _Connection, resp: UpstreamResponse) -> None:
        if resp.stream is None or conn.stream_ended:
            self._release(key, conn)
        else:  # back to the pool once the stream has ended
            conn.on_stream_end = lambda: self._release(key, conn)
            resp.abandon = conn.abandon

    def _release(self, key: tuple[str, int], conn: _Connection) -> None:
        if conn.closed or not conn.keep or not conn.parser.should_keep_alive():
            if conn.transport is not None:
                conn.transport.close()
            return
        idle = self._idle.setdefault(key, [])
        if len(idle) < self._max_idle:
            idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()

    def close(self) -> None:
        """Close every idle connection."""
        for conns in self._idle.values():
            for conn in conns:
                if conn.transport is not None:
                    conn.transport.close()
        self._idle.clear()
