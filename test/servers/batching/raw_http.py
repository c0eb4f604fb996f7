"""Raw HTTP/1.1 over pre-opened sockets: every request of a test sent at once, answers read after."""

from __future__ import annotations

import socket


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one response: ``(status, lower-case headers, body)``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the response headers"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the response body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def http(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> bytes:
    """One request's bytes."""
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def fire(port: int, requests: list[bytes]) -> list[tuple[int, dict[str, str], bytes]]:
    """Open a connection per request, warm each, then send every request at once."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in requests]
    try:
        for sock in socks:
            sock.sendall(http(port, "GET", "/v2/health/live"))
        for sock in socks:
            assert read_response(sock)[0] == 200
        for sock, request in zip(socks, requests, strict=True):
            sock.sendall(request)
        return [read_response(sock) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
