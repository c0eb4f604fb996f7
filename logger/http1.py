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
import urllib.request
from collections.abc import Sequence
from urllib.parse import urlsplit

__all__ = ["Http1Client", "HttpStatusError", "env_proxy_for"]


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
    """

    def __init__(
        self, url: str, *, proxy: str | None = None, timeout: float = 5.0, max_idle: int = 8
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
        host_header = target.netloc
        self._prefix = f"POST {request_target} HTTP/1.1\r\nhost: {host_header}\r\n".encode("latin-1")
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

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


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise HttpStatusError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
    status = int(parts[1])
    length = -1
    chunked = False
    keep = parts[0] == "HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "connection":
            keep = value.lower() == "keep-alive" or (keep and value.lower() != "close")
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length > 0:
        await reader.readexactly(length)
    elif length < 0 and status not in (204, 304):
        keep = False  # body delimited by close: never reuse the connection
    return status, keep
