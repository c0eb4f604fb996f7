"""uvicorn's httptools protocol, writing each response's head and body in one ``send``.

uvicorn writes the status line and headers when the app sends ``http.response.start`` and the body
when it sends ``http.response.body``: two ``transport.write`` calls, so two ``send`` system calls
(and, on loopback, two wake-ups of the client) per request. Here the transport holds a complete
response head back until the next write (the body, or the close), which then goes out as one
write; a head that no write follows in the same event-loop turn (a ``HEAD`` answer, a streamed body
still being produced) is written on its own at the end of the turn. Nothing else changes: bytes on
the wire are the same, ``100 Continue`` is never held, and closing or aborting the connection
flushes or drops a held head as the plain transport would.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["OneWriteHttpToolsProtocol"]

_STATUS_PREFIX = b"HTTP/1.1 "
_CONTINUE = b"HTTP/1.1 100 "
_END_OF_HEAD = b"\r\n\r\n"


class _HeadHoldingTransport:
    """A transport proxy that delays a lone response head until the next write."""

    __slots__ = ("_head", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def _flush(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + bytes(data))
            return
        if (
            isinstance(data, bytes)
            and data.startswith(_STATUS_PREFIX)
            and data.endswith(_END_OF_HEAD)
            and not data.startswith(_CONTINUE)
        ):
            self._head = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._head = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` whose responses leave in one write (``uvicorn.Config(http=...)``)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.transport = _HeadHoldingTransport(self.transport, self.loop)  # type: ignore[assignment]
