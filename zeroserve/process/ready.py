"""The ready file: how a process started with port 0 tells its parent which ports it bound.

Written once every model is loaded and every port listens, as ``{"pid", "http_port", "grpc_port"}``
(``grpc_port`` -1 or ``null`` when there is none), to a temporary file renamed into place so a
reader never sees half of it. The file is private to its user (0600).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["read_ready_file", "write_ready_file"]


def write_ready_file(path: Path, http_port: int, grpc_port: int | None = -1) -> None:
    """Write the ready file atomically, creating its folder.

    Args:
        path: where to write it.
        http_port: the bound HTTP port.
        grpc_port: the bound gRPC port; -1 (or ``None``) when the process serves no gRPC.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps({"pid": os.getpid(), "http_port": http_port, "grpc_port": grpc_port}).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_ready_file(path: Path) -> dict[str, int | None] | None:
    """The ready file's content, or ``None`` while it is absent or incomplete.

    Args:
        path: the ready file.

    Returns:
        ``{"pid", "http_port", "grpc_port"}``, or ``None``.
    """
    try:
        doc = json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
