"""A minimal keep-alive HTTP/1.1 POST client for plain-``http`` CloudEvents sinks.

The payload logger sends two small POSTs per inference from inside the model server's own event
loop, so the cost of each send competes with predictions. A general client (httpx) spends far
more CPU per request than the request itself; this one writes pre-built requests and parses the
answers straight from the bytes that arrive. Batches of events are *pipelined* (HTTP/1.1
§9.3.2: all requests written with one ``write``, answers read in order), and the answers are
parsed by an :class:`asyncio.Protocol` as they come in: a batch costs one system call to send and
wakes its sender once, when the last answer is in, whatever the batch size. It speaks only
``http://`` (directly or through an HTTP proxy, absolute-form request target); ``https`` sinks
use httpx.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Sequence
from typing import cast
from urllib.parse import urlsplit

from zeroserve.cloudevents import CloudEvent, header_value

__all__ = ["Http1Client", "HttpStatusError", "env_proxy_for"]

_UNIQUE = frozenset({"id", "time"})
"""Attributes that differ on every event: their header lines are not cached."""


class HttpStatusError(ConnectionError):
    """The peer answered something that is not HTTP/1.x."""


def env_proxy_for(url: str) -> str | None:
    """The proxy ``HTTP_PROXY`` / ``NO_PROXY`` choose for an ``http://`` URL, if any.

    Args:
        url: the target URL.

    Returns:
        The proxy URL, or ``None`` for a direct connection.
    """
    host = urlsplit(url).hostname or ""
    proxy = urllib.request.getproxies_environment().get("http")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy


class Http1Client:
    """POSTs to one ``http://`` URL over pooled keep-alive connections.

    Args:
        url: the sink URL (``http://host[:port][/path]``).
        proxy: an ``http://`` proxy to go through, or ``None``.
        timeout: seconds for connecting plus one batch of requests and their answers.
        max_idle: most idle connections kept.
        headers: header lines every request carries after ``host`` (e.g. ``authorization``).
    """

    def __init__(
        self,
        url: str,
        *,
        proxy: str | None = None,
        timeout: float = 5.0,
        max_idle: int = 8,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        target = urlsplit(url)
        if target.scheme != "http":
            raise ValueError(f"Http1Client speaks plain http only, not {url!r}")
        self._timeout = timeout
        self._max_idle = max_idle
        host = target.hostname or "localhost"
        port = target.port or 80
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
        if proxy:
            via = urlsplit(proxy)
            self._address = (via.hostname or "localhost", via.port or 80)
            request_target = f"http://{target.netloc}{path}"
        else:
            self._address = (host, port)
            request_target = path
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
        head = f"POST {request_target} HTTP/1.1\r\nhost: {target.netloc}\r\n{lines}"
        self.prefix = head.encode("latin-1")
        """The request line, ``host`` and the fixed headers every request starts with."""
        self._idle: list[_Connection] = []
        self._lines: dict[tuple[str, str], bytes] = {}

    def encode_event(self, event: CloudEvent) -> bytes:
        """A CloudEvent as one binary-mode POST request (header lines of repeated attributes cached).

        Args:
            event: the event.

        Returns:
            The request bytes.
        """
        cache = self._lines
        parts = [self.prefix]
        for name, value in event.attributes.items():
            line = cache.get((name, value))
            if line is None:
                line = f"ce-{name}: {header_value(value)}\r\n".encode("latin-1")
                if name not in _UNIQUE and len(cache) < 1024:
                    cache[(name, value)] = line
            parts.append(line)
        if event.datacontenttype:
            parts.append(b"content-type: %s\r\n" % event.datacontenttype.encode("latin-1"))
        parts.append(b"content-length: %d\r\n\r\n" % len(event.data))
        parts.append(event.data)
        return b"".join(parts)

    def encode(self, headers: list[tuple[str, str]], body: bytes) -> bytes:
        """One POST request as bytes (``content-length`` added)."""
        head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1")
        return b"%scontent-length: %d\r\n%s\r\n%s" % (self.prefix, len(body), head, body)

    async def post_many(self, requests: Sequence[bytes]) -> list[int]:
        """Send requests pipelined on one connection (one write) and read their statuses in order.

        A kept-alive connection the peer had closed is replaced once, transparently.

        Args:
            requests: requests made by :meth:`encode` or :meth:`encode_event`.

        Returns:
            One status per request; ``0`` for a request that got no answer (connection refused,
            reset or closed, timeout), which the caller may retry.
        """
        payload = b"".join(requests)
        count = len(requests)
        for fresh_try in (False, True):
            connection = None
            while self._idle and not fresh_try:
                candidate = self._idle.pop()
                if candidate.usable:
                    connection = candidate
                    break
            reused = connection is not None
            statuses: list[int] = []
            try:
                async with asyncio.timeout(self._timeout):
                    if connection is None:
                        loop = asyncio.get_running_loop()
                        _, connection = await loop.create_connection(_Connection, *self._address)
                    statuses = await connection.exchange(payload, count)
            except (OSError, TimeoutError):
                pass
            if connection is not None:
                if len(statuses) == count and connection.usable and len(self._idle) < self._max_idle:
                    self._idle.append(connection)
                else:
                    connection.close()
            if statuses or not reused:
                return statuses + [0] * (count - len(statuses))
        return [0] * count

    async def post(self, headers: list[tuple[str, str]], body: bytes) -> int:
        """Send one POST and wait for its status.

        Args:
            headers: request headers (``content-length`` is added).
            body: the request body.

        Returns:
            The HTTP status code.

        Raises:
            ConnectionError: no answer (refused, reset, timed out).
        """
        (status,) = await self.post_many([self.encode(headers, body)])
        if status == 0:
            raise ConnectionError(f"no answer from {self._address[0]}:{self._address[1]}")
        return status

    async def aclose(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) (\d{3})")
_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r]*chunked", re.IGNORECASE)
_CONNECTION = re.compile(rb"\r\nconnection:[ \t]*([a-z-]+)", re.IGNORECASE)


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a batch is written at once and its answers parsed as they arrive.

    Parsing happens in :meth:`data_received`, synchronously, so however the answers are split
    into segments, the waiting sender is woken once: when the last answer is in, or when the
    connection ends (the answers so far are then the result).
    """

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._statuses: list[int] = []
        self._expected = 0
        self._waiter: asyncio.Future[list[int]] | None = None
        self._keep = True
        self._lost = False
        self._last: tuple[bytes, int] = (b"", 0)
        """The last kept-alive answer parsed, and its status."""

    @property
    def usable(self) -> bool:
        """Whether another batch may be sent on this connection."""
        return self._keep and not self._lost and self._transport is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is None:
            self._keep = False  # nothing was asked: the peer is not speaking HTTP/1.1 to us
            return
        try:
            self._parse()
        except (HttpStatusError, ValueError):
            self._keep = False
            self._finish()

    def eof_received(self) -> bool:
        self._lost = True
        self._finish()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._finish()

    def close(self) -> None:
        """Close the connection (answers still due count as missing)."""
        self._keep = False
        if self._transport is not None:
            self._transport.close()

    async def exchange(self, payload: bytes, count: int) -> list[int]:
        """Write ``count`` pipelined requests and return the statuses answered (fewer when cut short)."""
        assert self._transport is not None
        if self._lost or self._transport.is_closing():
            return []
        self._statuses = []
        self._expected = count
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(payload)
        try:
            statuses: list[int] = await waiter
            return statuses
        finally:
            self._waiter = None
            if len(self._statuses) < count:
                self._keep = False

    def _finish(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(self._statuses)

    def _parse(self) -> None:
        buffer = self._buffer
        statuses = self._statuses
        position = 0
        while len(statuses) < self._expected:
            # A sink answers a batch with the same bytes again and again ("202, no body"): an
            # answer equal to the last one parsed needs no parsing.
            last, last_status = self._last
            if last and buffer.startswith(last, position):
                position += len(last)
                statuses.append(last_status)
                continue
            answer = _parse_answer(buffer, position)
            if answer is None:
                break
            end, status, keep = answer
            statuses.append(status)
            if not keep:
                self._keep = False
                break
            self._last = (bytes(buffer[position:end]), status)
            position = end
        if position:
            del buffer[:position]
        if len(statuses) == self._expected or not self._keep:
            self._finish()


def _parse_answer(buffer: bytearray, start: int) -> tuple[int, int, bool] | None:
    """The answer starting at ``start``: ``(where it ends, status, keep-alive)``, ``None`` if incomplete.

    An answer whose body is delimited by the connection closing ends with its head: its status
    is all the logger needs, and the connection is not reused.

    Raises:
        HttpStatusError: the bytes are not an HTTP/1.x answer.
    """
    head_end = buffer.find(b"\r\n\r\n", start)
    if head_end < 0:
        if len(buffer) - start > 65536:
            raise HttpStatusError("answer head larger than 64 KiB")
        return None
    status_line = _STATUS_LINE.match(buffer, start)
    if status_line is None:
        raise HttpStatusError(f"not an HTTP/1.x answer: {bytes(buffer[start : start + 80])!r}")
    status = int(status_line.group(2))
    keep = status_line.group(1) == b"1"
    connection = _CONNECTION.search(buffer, start, head_end)
    if connection is not None:
        token = connection.group(1).lower()
        keep = token == b"keep-alive" or (keep and token != b"close")
    position = head_end + 4
    if _CHUNKED.search(buffer, start, head_end) is not None:
        while True:
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
            position = line_end + 2 + size + 2
            if position > len(buffer):
                return None
            if size == 0:
                return position, status, keep
    length = _LENGTH.search(buffer, start, head_end)
    if length is not None:
        position += int(length.group(1))
        return (position, status, keep) if position <= len(buffer) else None
    if status not in (204, 304):
        keep = False  # body delimited by close: never reuse the connection
    return position, status, keep
