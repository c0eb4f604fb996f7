"""Ports and listening sockets, the same way in every process.

The HTTP port defaults to ``$PORT`` (Knative's container contract), else 8080. Binding a busy port
fails with :class:`PortInUse`, whose message names the address and the flag that changes it, so a
CLI prints one line instead of a traceback.
"""

from __future__ import annotations

import errno
import os
import socket

__all__ = ["PortInUse", "bind_socket", "default_http_port"]


class PortInUse(OSError):
    """The address is taken (or not ours to bind); the message says which flag changes it.

    Args:
        host: the interface asked for.
        port: the port asked for.
        flag: the command-line flag that sets this port, e.g. ``--http-port``.
        reason: the system's words for the failure.
    """

    def __init__(self, host: str, port: int, flag: str, reason: str) -> None:
        super().__init__(
            errno.EADDRINUSE, f"cannot listen on {host}:{port}: {reason}; choose another port with {flag}"
        )
        self.host = host
        self.port = port
        self.flag = flag

    def __str__(self) -> str:
        return str(self.strerror)


def default_http_port(environ: dict[str, str] | None = None, fallback: int = 8080) -> int:
    """``$PORT`` when set (Knative sets it for every container), else ``fallback``.

    Args:
        environ: the environment to read; ``os.environ`` by default.
        fallback: the port when ``PORT`` is unset or empty.

    Returns:
        The port.
    """
    value = (os.environ if environ is None else environ).get("PORT", "")
    return int(value) if value.strip() else fallback


def bind_socket(host: str, port: int, *, flag: str = "--http-port", backlog: int = 2048) -> socket.socket:
    """A non-blocking listening TCP socket with ``SO_REUSEADDR`` and ``TCP_NODELAY``.

    ``TCP_NODELAY`` is inherited by accepted connections: without it a response written in two parts
    waits for the client's delayed ACK (about 40 ms) on asyncio's loop.

    Args:
        host: the interface (IPv6 when it holds a colon).
        port: the port; 0 picks a free one.
        flag: the flag named in the error when the port is taken.
        backlog: the listen backlog.

    Returns:
        The listening socket.

    Raises:
        PortInUse: the address is in use or may not be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise PortInUse(host, port, flag, exc.strerror or str(exc)) from None
        raise
    sock.setblocking(False)
    return sock
