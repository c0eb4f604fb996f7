"""What the gateway hands between a client and an instance: the request body as it arrives, under the
gateway's size limit, and the instance's response, relayed whole or as a stream (chunked, event
streams) with the ``zeroserve-revision`` header added.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import unquote

from zeroserve.local.engine.upstream import UpstreamError, UpstreamResponse
from zeroserve.process.asgi import BodyTooLarge, ClientDisconnected, Message, Receive, Send, respond_json

__all__ = [
    "REVISION_HEADER",
    "RequestBody",
    "answer_too_large",
    "forward_response",
    "forward_stream",
    "is_repository_path",
]

REVISION_HEADER = "zeroserve-revision"
"""Response header naming the revision that served a request."""

_REVISION_HEADER = REVISION_HEADER.encode()
_SKIP_RESPONSE = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"server", b"date"}
)
_REPOSITORY = "/v2/repository"


class RequestBody:
    """A request body still arriving from the client, with the gateway's size limit applied."""

    def __init__(self, first: Message, receive: Receive, length: int | None, limit: int) -> None:
        self._first = first
        self._receive = receive
        self.length = length
        self._limit = limit
        self.started = False
        """Whether any of it was handed out (then the request cannot be tried again)."""

    async def chunks(self) -> AsyncIterator[bytes]:
        self.started = True
        message = self._first
        size = 0
        while True:
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self._limit:
                raise BodyTooLarge(self._limit)
            yield chunk
            if not message.get("more_body", False):
                return
            message = await self._receive()


def is_repository_path(path: str) -> bool:
    """Whether a path reaches the model repository API (as the instance will read it: decoded, with
    repeated slashes collapsed)."""
    if "%" in path:
        path = unquote(path)
    if "//" in path:
        while "//" in path:
            path = path.replace("//", "/")
    return path == _REPOSITORY or path.startswith(_REPOSITORY + "/")


async def answer_too_large(send: Send, limit: int) -> None:
    message = (
        f"request body larger than the gateway's limit of {limit} bytes "
        "(raise ZEROSERVE_ENGINE_MAX_REQUEST_BODY_BYTES to allow more)"
    )
    # the rest of the body is read and dropped by the server, so the client sees the answer
    await respond_json(send, 413, {"error": message})


async def forward_response(send: Send, resp: UpstreamResponse, revision: bytes | None) -> None:
    out = [(k, v) for k, v in resp.headers if k not in _SKIP_RESPONSE]
    if revision is not None:
        out.append((_REVISION_HEADER, revision))
    if resp.stream is not None:
        await forward_stream(send, resp, out)
        return
    if resp.body or not any(k == b"content-length" for k, _ in resp.headers):
        out.append((b"content-length", str(len(resp.body)).encode()))
    else:  # a HEAD (or empty) response: keep the length the upstream announced
        out += [(k, v) for k, v in resp.headers if k == b"content-length"]
    await send({"type": "http.response.start", "status": resp.status, "headers": out})
    await send({"type": "http.response.body", "body": resp.body})


async def forward_stream(send: Send, resp: UpstreamResponse, headers: list[tuple[bytes, bytes]]) -> None:
    """Relay a chunked / event-stream response as it arrives."""
    assert resp.stream is not None
    finished = False
    try:
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        while True:
            chunk = await resp.stream.get()
            if chunk is None or isinstance(chunk, UpstreamError):
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        finished = chunk is None
    finally:
        if not finished:
            resp.abandon()
