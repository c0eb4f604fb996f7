"""Kubeconfig files for the embedded API server (cluster, user with bearer token, context ``zeroserve``)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CONTEXT", "kubeconfig", "kubeconfig_path", "write_kubeconfig"]

CONTEXT = "zeroserve"


def kubeconfig_path(state_dir: Path) -> Path:
    """Returns: where ``zeroserve up`` writes the kubeconfig inside a state folder."""
    return state_dir / "kubeconfig"


def kubeconfig(
    server: str,
    token: str,
    *,
    ca_cert: Path | None = None,
    namespace: str = "default",
    context: str = CONTEXT,
) -> dict[str, Any]:
    """Build a kubeconfig.

    Args:
        server: the API server URL, e.g. ``https://127.0.0.1:8001``.
        token: the bearer token.
        ca_cert: the PEM file of the CA that signed the server's certificate (embedded as data).
        namespace: the context's default namespace.
        context: the name used for the cluster, user and context.

    Returns:
        The kubeconfig as a mapping.
    """
    cluster: dict[str, Any] = {"server": server}
    if ca_cert is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_cert.read_bytes()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [
            {"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}
        ],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(
    path: Path, server: str, token: str, *, ca_cert: Path | None = None, namespace: str = "default"
) -> Path:
    """Write a kubeconfig atomically, readable only by its owner.

    Args:
        path: the file to write.
        server: the API server URL.
        token: the bearer token.
        ca_cert: the CA certificate file (for an ``https`` server).
        namespace: the default namespace.

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(
            kubeconfig(server, token, ca_cert=ca_cert, namespace=namespace), handle, sort_keys=False
        )
    temporary.replace(path)
    return path
