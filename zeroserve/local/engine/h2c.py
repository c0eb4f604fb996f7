"""HTTP/2 cleartext for the gateway: both ends of a connection over ``h2``'s state machine.

gRPC clients speak HTTP/2 "with prior knowledge": the connection starts with HTTP/2's preface, no
upgrade. :func:`sniffing_protocol` builds the gateway's listener protocol: it reads a connection's
first bytes and hands it either to uvicorn's HTTP/1.1 protocol (the ASGI gateway, unchanged) or to an
:class:`H2Server`, so one port serves both, as Knative's ingress does.

:class:`H2Stream` is one request/response exchange seen from either end: the first header block
(``headers``), body chunks (:meth:`H2Stream.read`), trailers, and writes that wait for the peer's
flow-control window. Received data is acknowledged (the peer's window reopened) only when the reader
calls :meth:`H2Stream.ack`, after it passed the data on: a proxy built on it holds at most one window
of a stream's body, and a slow receiver slows the sender down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["PREFACE", "H2Client", "H2Server", "H2Stream", "Headers", "StreamReset", "sniffing_protocol"]

_LOG = logging.getLogger(__name__)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The client connection preface every HTTP/2 connection starts with."""

Headers = list[tuple[bytes, bytes]]

_STREAM_WINDOW = 2**20
"""Receive window per stream: the most of one stream's body held before the reader passes it on."""
_CONNECTION_WINDOW = 16 * 2**20
_MAX_FRAME = 2**20 - 1


class StreamReset(Exception):
    """The stream ended abnormally: reset by the peer, or its connection went away."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        """The HTTP/2 error code (``h2.errors.ErrorCodes``)."""


class H2Stream:
    """One stream of an HTTP/2 connection, with the calls a relay needs."""

    def __init__(self, endpoint: _Endpoint, stream_id: int) -> None:
        self.endpoint = endpoint
        self.id = stream_id
        self.headers: asyncio.Future[Headers] = asyncio.get_running_loop().create_future()
        """The first header block the peer sent (request or response headers)."""
        self.headers_ended = False
        """Whether that block ended the peer's side (a gRPC "trailers-only" response)."""
        self.trailers: Headers | None = None
        """The peer's trailers, once received."""
        self._inbound: deque[tuple[bytes, int]] = deque()
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._ended = False
        self._error: StreamReset | None = None
        self._unacked = 0
        self.local_ended = False

    # --- events from the connection
    def _wake(self) -> None:
        for waiter in (self._readable, self._writable):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def _push(self, data: bytes, flow: int) -> None:
        self._inbound.append((data, flow))
        self._wake()

    def _finish(self) -> None:
        self._ended = True
        self._wake()

    def _fail(self, error: StreamReset) -> None:
        if self._error is None:
            self._error = error
        if not self.headers.done():
            self.headers.set_exception(error)
            self.headers.exception()  # retrieved here: a reader that never awaits it is not an error
        self._wake()

    async def _wait_readable(self) -> None:
        self._readable = waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._readable = None

    async def _wait_writable(self) -> None:
        self._writable = waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._writable = None

    @property
    def failed(self) -> bool:
        """Whether the stream was reset or its connection lost."""
        return self._error is not None

    @property
    def remote_ended(self) -> bool:
        """Whether the peer ended its side (all its data is in hand or already read)."""
        return self._ended

    @property
    def pending(self) -> int:
        """Received chunks not read yet."""
        return len(self._inbound)

    # --- reading
    async def read(self) -> bytes | None:
        """The next body chunk; ``None`` at the end of the peer's side.

        Raises:
            StreamReset: the stream was reset or its connection lost.
        """
        while not self._inbound:
            if self._error is not None:
                raise self._error
            if self._ended:
                return None
            await self._wait_readable()
        data, flow = self._inbound.popleft()
        self._unacked += flow
        return data

    def ack(self) -> None:
        """Reopen the peer's window by what :meth:`read` returned so far."""
        if self._unacked:
            self.endpoint.acknowledge(self.id, self._unacked)
            self._unacked = 0

    # --- writing
    def send_headers(self, headers: Headers, *, end: bool = False) -> None:
        """Send a header block (headers, or trailers when the headers were sent).

        Raises:
            StreamReset: the stream is no longer open for sending.
        """
        self._check()
        self.endpoint.call(self.endpoint.h2.send_headers, self.id, headers, end_stream=end)
        self.local_ended = end

    async def write(self, data: bytes, *, end: bool = False) -> None:
        """Send body bytes, waiting for the peer's window (and the socket) as needed.

        Raises:
            StreamReset: the stream was reset or its connection lost.
        """
        endpoint = self.endpoint
        conn = endpoint.h2
        view = memoryview(data)
        if not view and not end:
            return
        while True:
            self._check()
            size = min(conn.local_flow_control_window(self.id), conn.max_outbound_frame_size, len(view))
            if size > 0 or not view:
                last = end and size == len(view)
                endpoint.call(conn.send_data, self.id, bytes(view[:size]), end_stream=last)
                view = view[size:]
                if last:
                    self.local_ended = True
                if not view:
                    break
            else:
                await self._wait_writable()
        await endpoint.drain()

    def end(self) -> None:
        """End this side of the stream (no trailers)."""
        self._check()
        self.endpoint.call(self.endpoint.h2.end_stream, self.id)
        self.local_ended = True

    def reset(self, code: int = h2.errors.ErrorCodes.CANCEL) -> None:
        """Reset the stream (quietly does nothing when it is already closed)."""
        if self._error is None and not self.endpoint.closed:
            with contextlib.suppress(h2.exceptions.H2Error):
                self.endpoint.call(self.endpoint.h2.reset_stream, self.id, code)
        self._fail(StreamReset(code, "reset"))

    def release(self) -> None:
        """Forget the stream; one still open either way is reset (cancelled)."""
        if not (self.local_ended and self._ended) and self._error is None:
            self.reset(h2.errors.ErrorCodes.CANCEL if not self.local_ended else h2.errors.ErrorCodes.NO_ERROR)
        unacked = self._unacked + sum(flow for _, flow in self._inbound)
        self._inbound.clear()
        self._unacked = 0
        if unacked:
            self.endpoint.acknowledge(self.id, unacked)
        self.endpoint.streams.pop(self.id, None)

    def _check(self) -> None:
        if self._error is not None:
            raise self._error


class _Endpoint(asyncio.Protocol):
    """An HTTP/2 connection: the h2 state machine, the socket and the streams."""

    client_side = False

    def __init__(self) -> None:
        # headers sent are ones already received and checked (or the gateway's own), and the
        # instances' responses are trusted as much as their bodies: only clients' headers are validated
        config = h2.config.H2Configuration(
            client_side=self.client_side,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
            validate_inbound_headers=not self.client_side,
        )
        self.h2 = h2.connection.H2Connection(config)
        self.streams: dict[int, H2Stream] = {}
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._paused = False
        self._drained: asyncio.Future[None] | None = None
        self._flush_scheduled = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        conn = self.h2
        conn.initiate_connection()
        # a SETTINGS frame of its own: h2 applies changed settings when the peer acknowledges them,
        # and the first frame carries only the values already in force
        conn.update_settings(
            {
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _STREAM_WINDOW,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: _MAX_FRAME,
            }
        )
        conn.increment_flow_control_window(_CONNECTION_WINDOW - 65535)
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        error = StreamReset(h2.errors.ErrorCodes.CONNECT_ERROR, f"connection lost: {exc or 'closed'}")
        for stream in list(self.streams.values()):
            stream._fail(error)
        self.resume_writing()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    async def drain(self) -> None:
        """Wait while the socket's send buffer is over its high-water mark."""
        if self._paused and not self.closed:
            drained = self._drained
            if drained is None or drained.done():  # one future shared by every stream waiting
                self._drained = drained = asyncio.get_running_loop().create_future()
            await asyncio.shield(drained)

    def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run an ``h2`` send operation and schedule the flush.

        Raises:
            StreamReset: h2 refused it because the stream is closed.
        """
        try:
            method(*args, **kwargs)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as err:
            raise StreamReset(h2.errors.ErrorCodes.STREAM_CLOSED, f"stream closed: {err}") from None
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write what the state machine has queued."""
        self._flush_scheduled = False
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    def acknowledge(self, stream_id: int, size: int) -> None:
        """Reopen the peer's window by ``size`` bytes of a stream's data."""
        if not self.closed:
            self.call(self.h2.acknowledge_received_data, size, stream_id)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as err:
            _LOG.debug("HTTP/2 protocol error, closing the connection: %s", err)
            self.flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            self._event(event)
        self.flush()

    def _event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id or 0)
            if stream is None:
                if event.flow_controlled_length and event.stream_id:
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            else:
                stream._push(event.data or b"", event.flow_controlled_length or 0)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id or 0)
            if stream is not None:
                stream._finish()
        elif isinstance(event, h2.events.WindowUpdated):
            if event.stream_id:
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream._wake()
            else:
                self._wake_all()
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self._wake_all()
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.get(event.stream_id or 0)
            if stream is not None:
                code = int(event.error_code or 0)
                stream._fail(StreamReset(code, f"stream reset by the peer (HTTP/2 error {code})"))
                self.stream_reset(stream)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.terminated(event)
        else:
            self.other_event(event)

    def _wake_all(self) -> None:
        for stream in self.streams.values():
            stream._wake()

    def stream_reset(self, stream: H2Stream) -> None:
        """The peer reset a stream."""

    def terminated(self, event: h2.events.ConnectionTerminated) -> None:
        """The peer sent GOAWAY."""
        if self.transport is not None:
            self.transport.close()

    def other_event(self, event: h2.events.Event) -> None:
        """Events the subclass handles (request or response headers, trailers)."""


class H2Server(_Endpoint):
    """The server end: each request runs ``handler(stream)`` as a task; a reset cancels it."""

    def __init__(
        self, handler: Callable[[H2Stream], Awaitable[None]], on_close: Callable[[H2Server], None]
    ) -> None:
        super().__init__()
        self._handler = handler
        self._on_close = on_close
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def other_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived) and event.stream_id:
            stream = H2Stream(self, event.stream_id)
            stream.headers.set_result(list(event.headers or []))
            self.streams[event.stream_id] = stream
            task = asyncio.get_running_loop().create_task(self._run(stream))
            self._tasks[event.stream_id] = task
        elif isinstance(event, h2.events.TrailersReceived):
            found = self.streams.get(event.stream_id or 0)
            if found is not None:
                found.trailers = list(event.headers or [])

    async def _run(self, stream: H2Stream) -> None:
        try:
            await self._handler(stream)
        except StreamReset:
            pass
        except Exception:
            _LOG.exception("HTTP/2 stream handler failed")
            stream.reset(h2.errors.ErrorCodes.INTERNAL_ERROR)
        finally:
            self._tasks.pop(stream.id, None)
            stream.release()

    def stream_reset(self, stream: H2Stream) -> None:
        task = self._tasks.get(stream.id)
        if task is not None:
            task.cancel()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        for task in list(self._tasks.values()):
            task.cancel()
        self._on_close(self)

    def shutdown(self) -> None:
        """Close the connection (the gateway is stopping): GOAWAY, then close."""
        if not self.closed:
            with contextlib.suppress(h2.exceptions.H2Error):
                self.h2.close_connection()
            self.flush()
            if self.transport is not None:
                self.transport.close()


class H2Client(_Endpoint):
    """The client end: :meth:`open` starts a request stream."""

    client_side = True

    def __init__(self) -> None:
        super().__init__()
        self.going_away = False

    @property
    def usable(self) -> bool:
        """Whether a new stream may be opened on it now."""
        conn = self.h2
        return (
            not self.closed
            and not self.going_away
            and conn.open_outbound_streams < conn.remote_settings.max_concurrent_streams
        )

    def open(self, headers: Headers, *, end: bool = False) -> H2Stream:
        """Start a request.

        Args:
            headers: the request headers, pseudo-headers first.
            end: the request has no body.

        Returns:
            The stream (its ``headers`` future gets the response headers).
        """
        stream_id = self.h2.get_next_available_stream_id()
        stream = H2Stream(self, stream_id)
        self.streams[stream_id] = stream
        stream.send_headers(headers, end=end)
        return stream

    def other_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            stream = self.streams.get(event.stream_id or 0)
            if stream is not None and not stream.headers.done():
                stream.headers_ended = event.stream_ended is not None
                stream.headers.set_result(list(event.headers or []))
        elif isinstance(event, h2.events.TrailersReceived):
            stream = self.streams.get(event.stream_id or 0)
            if stream is not None:
                stream.trailers = list(event.headers or [])

    def terminated(self, event: h2.events.ConnectionTerminated) -> None:
        self.going_away = True
        last = event.last_stream_id or 0
        for stream in list(self.streams.values()):
            if stream.id > last:
                stream._fail(StreamReset(h2.errors.ErrorCodes.REFUSED_STREAM, "the server is going away"))
        if not self.streams:
            super().terminated(event)


class H2ClientPool:
    """HTTP/2 connections to local upstreams, one shared per port while it has room for streams."""

    def __init__(self) -> None:
        self._conns: dict[tuple[str, int], list[H2Client]] = {}
        self._connecting: dict[tuple[str, int], asyncio.Future[H2Client]] = {}

    async def connection(self, host: str, port: int) -> H2Client:
        """A connection with room for one more stream.

        Raises:
            OSError: the upstream cannot be reached.
        """
        key = (host, port)
        conns = self._conns.setdefault(key, [])
        for conn in conns:
            if conn.usable:
                return conn
        conns[:] = [c for c in conns if not c.closed]
        pending = self._connecting.get(key)
        if pending is not None:
            conn = await asyncio.shield(pending)
            if conn.usable:
                return conn
        fut: asyncio.Future[H2Client] = asyncio.get_running_loop().create_future()
        self._connecting[key] = fut
        try:
            _, conn = await asyncio.get_running_loop().create_connection(H2Client, host, port)
        except BaseException as err:
            fut.set_exception(err if isinstance(err, OSError) else OSError(str(err)))
            fut.exception()
            raise
        finally:
            if self._connecting.get(key) is fut:
                del self._connecting[key]
        conns.append(conn)
        if not fut.done():
            fut.set_result(conn)
        return conn

    def close(self) -> None:
        """Close every connection."""
        for conns in self._conns.values():
            for conn in conns:
                if conn.transport is not None:
                    conn.transport.close()
        self._conns.clear()


def sniffing_protocol(handler: Callable[[H2Stream], Awaitable[None]]) -> type[asyncio.Protocol]:
    """A uvicorn protocol class that serves HTTP/2 prior-knowledge connections with ``handler``.

    Pass it as ``uvicorn.Config(http=...)``: connections that start with HTTP/2's preface get an
    :class:`H2Server` (registered with uvicorn's connections, so its shutdown closes them); all others
    go to uvicorn's httptools protocol as if it had accepted them itself.

    Args:
        handler: serves one HTTP/2 stream.

    Returns:
        The protocol class.
    """

    class SniffingProtocol(asyncio.Protocol):
        def __init__(
            self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None
        ) -> None:
            self._args = (config, server_state, app_state, _loop)
            self._buffer = b""
            self._transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self._transport = transport

        def data_received(self, data: bytes) -> None:
            buffer = self._buffer + data
            if len(buffer) < len(PREFACE) and PREFACE.startswith(buffer):
                self._buffer = buffer
                return
            transport = self._transport
            assert transport is not None
            protocol: asyncio.Protocol
            if buffer.startswith(PREFACE):
                connections = self._args[1].connections
                server = H2Server(handler, connections.discard)
                connections.add(server)
                protocol = server
            else:
                config, server_state, app_state, loop = self._args
                protocol = HttpToolsProtocol(config, server_state, app_state, loop)
            transport.set_protocol(protocol)
            protocol.connection_made(transport)
            protocol.data_received(buffer)

        def connection_lost(self, exc: Exception | None) -> None:
            pass

    return SniffingProtocol
