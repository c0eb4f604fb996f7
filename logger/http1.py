"""A minimal keep-alive HTTP/1.1 POST client for plain-``http`` CloudEvents sinks.

The payload logger sends two small POSTs per inference from inside the model server's own event
loop, so the cost of each send competes with predictions. A general client (httpx) spends far
more CPU per request than the request itself; this one writes one pre-built request with a single
``write``, reads the status line, headers and a ``content-length`` or chunked body, and keeps the
connection for the next event. Batches of events are *pipelined* (HTTP/1.1 §9.3.2: all requests
written at once, answers read in order), which divides the per-event system calls by the batch
size. It speaks only ``http://`` (directly or through an HTTP proxy,
absolute-form request target); ``https`` sinks use httpx.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Sequence
from urllib.parse import urlsplit

from zeroserve.logger.cloudevent import CloudEvent, header_value

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
        timeout: seconds for connecting plus one request/response.
        max_idle: most idle connections kept.
        answer_pause: seconds to wait after writing a batch before reading its answers, so they
            are read with few system calls (each wake-up costs more than the pause).
    """

    def __init__(
        self,
        url: str,
        *,
        proxy: str | None = None,
        timeout: float = 5.0,
        max_idle: int = 8,
        answer_pause: float = 0.002,
    ) -> None:
        target = urlsplit(url)
        if target.scheme != "http":
            raise ValueError(f"Http1Client speaks plain http only, not {url!r}")
        self._timeout = timeout
        self._answer_pause = answer_pause
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
        host_header = target.netloc
        self._prefix = f"POST {request_target} HTTP/1.1\r\nhost: {host_header}\r\n".encode("latin-1")
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._lines: dict[tuple[str, str], bytes] = {}

    def encode_event(self, event: CloudEvent) -> bytes:
        """A CloudEvent as one binary-mode POST request (header lines of repeated attributes cached).

        Args:
            event: the event.

        Returns:
            The request bytes.
        """
        cache = self._lines
        parts = [self._prefix]
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
        return b"%scontent-length: %d\r\n%s\r\n%s" % (self._prefix, len(body), head, body)

    async def post_many(self, requests: Sequence[bytes]) -> list[int]:
        """Send requests pipelined on one connection (one write) and read their statuses in order.

        A kept-alive connection the peer had closed is replaced once, transparently.

        Args:
            requests: requests made by :meth:`encode`.

        Returns:
            One status per request; ``0`` for a request that got no answer (connection refused,
            reset or closed, timeout), which the caller may retry.
        """
        statuses = [0] * len(requests)
        payload = b"".join(requests)
        for fresh_try in (False, True):
            reused = bool(self._idle) and not fresh_try
            writer: asyncio.StreamWriter | None = None
            answered = 0
            keep = False
            try:
                async with asyncio.timeout(self._timeout):
                    if reused:
                        reader, writer = self._idle.pop()
                    else:
                        reader, writer = await asyncio.open_connection(*self._address)
                    writer.write(payload)
                    if self._answer_pause and len(requests) > 1:
                        await asyncio.sleep(self._answer_pause)  # let the answers arrive together
                    for i in range(len(requests)):
                        statuses[i], keep = await _read_response(reader)
                        answered += 1
                        if not keep:
                            break
            except (OSError, TimeoutError, asyncio.IncompleteReadError, HttpStatusError, ValueError):
                keep = False
            if writer is not None:
                if keep and answered == len(requests) and len(self._idle) < self._max_idle:
                    self._idle.append((reader, writer))
                else:
                    writer.close()
            if answered or not reused:
                return statuses
        return statuses

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
        for _, writer in idle:
            writer.close()


_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) (\d{3})")
_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r]*chunked", re.IGNORECASE)
_CONNECTION = re.compile(rb"\r\nconnection:[ \t]*([a-z-]+)", re.IGNORECASE)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line = _STATUS_LINE.match(head)
    if status_line is None:
        raise HttpStatusError(f"not an HTTP/1.x answer: {head[:80]!r}")
    status = int(status_line.group(2))
    keep = status_line.group(1) == b"1"
    connection = _CONNECTION.search(head)
    if connection is not None:
        token = connection.group(1).lower()
        keep = token == b"keep-alive" or (keep and token != b"close")
    length_match = _LENGTH.search(head)
    if _CHUNKED.search(head):
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length_match is not None:
        length = int(length_match.group(1))
        if length:
            await reader.readexactly(length)
    elif status not in (204, 304):
        keep = False  # body delimited by close: never reuse the connection
    return status, keep
