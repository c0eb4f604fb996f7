"""ASGI plumbing shared by zeroserve's plain ASGI apps.

The apps are hand-written ASGI callables (no framework on the hot path); these helpers are the pieces
each of them needs: the type aliases, the lifespan loop, a body reader with a size limit and a small
response writer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import orjson

__all__ = [
    "BodyTooLarge",
    "ClientDisconnected",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "read_body",
    "respond",
    "respond_json",
    "serve_lifespan",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

Hook = Callable[[], Awaitable[None]]


class BodyTooLarge(Exception):
    """The request body is larger than the reader's limit.

    Args:
        limit: the limit in bytes that was exceeded.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


class ClientDisconnected(Exception):
    """The client went away before its whole body arrived."""


async def serve_lifespan(
    receive: Receive, send: Send, *, startup: Hook | None = None, shutdown: Hook | None = None
) -> None:
    """Answer the ASGI lifespan protocol, running ``startup`` / ``shutdown`` at their messages.

    A hook that raises reports ``lifespan.startup.failed`` / ``lifespan.shutdown.failed`` with the
    exception's text, so the server refuses to start instead of serving half set up.

    Args:
        receive: the lifespan scope's receive.
        send: the lifespan scope's send.
        startup: awaited on ``lifespan.startup``.
        shutdown: awaited on ``lifespan.shutdown``.
    """
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "lifespan.startup":
            try:
                if startup is not None:
                    await startup()
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            try:
                if shutdown is not None:
                    await shutdown()
            except Exception as exc:
                await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive: Receive, limit: int | None = None) -> bytes:
    """Read a request's whole body, refusing it as soon as it passes ``limit`` bytes.

    Args:
        receive: the HTTP scope's receive.
        limit: the largest body accepted, in bytes; ``None`` for no limit.

    Returns:
        The body.

    Raises:
        BodyTooLarge: the body passed ``limit`` (checked per chunk, before it is all held).
        ClientDisconnected: the client disconnected before the body ended.
    """
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if limit is not None and len(body) > limit:
            raise BodyTooLarge(limit)
        return body
    chunks = [body]
    size = len(body)
    while True:
        if limit is not None and size > limit:
            raise BodyTooLarge(limit)
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if not message.get("more_body", False):
            if limit is not None and size > limit:
                raise BodyTooLarge(limit)
            return b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    headers: Iterable[tuple[bytes, bytes]] = (),
    *,
    content_type: bytes | None = None,
) -> None:
    """Send a complete response with ``content-length``.

    Args:
        send: the HTTP scope's send.
        status: the status code.
        body: the whole body.
        headers: further raw headers.
        content_type: the ``content-type`` header, when given.
    """
    raw = [(b"content-length", str(len(body)).encode())]
    if content_type is not None:
        raw.append((b"content-type", content_type))
    raw.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def respond_json(
    send: Send, status: int, doc: object, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Send ``doc`` as a JSON response.

    Args:
        send: the HTTP scope's send.
        status: the status code.
        doc: any value orjson encodes.
        headers: further raw headers.
    """
    await respond(send, status, orjson.dumps(doc), headers, content_type=b"application/json")
