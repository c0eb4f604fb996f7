"""The contract every part of the embedded platform implements.

``zeroserve up`` builds one :class:`PlatformContext` and starts each component in order (API server
first); components find each other only through the API server and HTTP addresses in the context.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["Component", "PlatformContext"]


@dataclass
class PlatformContext:
    """What a component needs to know about the platform it runs in."""

    state_dir: Path
    """Folder for persistent state (SQLite databases, model cache, logs)."""
    kubeconfig: Path
    """A kubeconfig for the embedded API server; load it with ``kubernetes.config``."""
    api_url: str = ""
    """The API server's base URL, set once the API server has started."""
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    """Where the serving gateway listens (0 picks a free port; the engine writes back the real one)."""
    domain: str = "example.com"
    """Domain of external URLs: ``http://<name>.<namespace>.<domain>``."""
    broker_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    """The credential the broker ingress requires (``Authorization: Bearer <token>``); the engine
    hands it to every instance as ``ZEROSERVE_BROKER_TOKEN``, and the payload logger and detectors
    send it with each event."""
    extra: dict[str, object] = field(default_factory=dict)
    """Addresses components publish for each other, e.g. ``{"broker_url": "http://127.0.0.1:1234"}``."""

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_host}:{self.gateway_port}"


@runtime_checkable
class Component(Protocol):
    """A long-running part of the embedded platform."""

    name: str

    async def start(self, ctx: PlatformContext) -> None:
        """Start serving; return once the component is ready for others to use."""
        ...

    async def stop(self) -> None:
        """Stop, releasing ports, processes and files; safe to call twice."""
        ...
