"""Settings of the embedded API server (environment prefix ``ZEROSERVE_APISERVER_``)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiServerSettings", "default_state_dir"]


def default_state_dir() -> Path:
    """Returns: ``$ZEROSERVE_HOME``, else ``~/.zeroserve``."""
    home = os.environ.get("ZEROSERVE_HOME")
    return Path(home).expanduser() if home else Path.home() / ".zeroserve"


class ApiServerSettings(BaseSettings):
    """How the embedded API server runs."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_APISERVER_")

    host: str = "127.0.0.1"
    """Interface to bind; loopback only by default (the token is the only protection)."""
    port: int = 8001
    """TCP port; ``0`` picks a free one (read it back from :attr:`ApiServer.port`)."""
    state_dir: Path = Field(default_factory=default_state_dir)
    """Platform state folder; the server keeps ``apiserver/state.db`` and ``apiserver/token`` in it."""
    in_memory: bool = False
    """Keep objects in memory only (nothing written under ``state_dir``)."""
    tls: bool = True
    """Serve HTTPS with a certificate from the server's own CA (kubectl sends tokens only over TLS)."""
    token: str | None = None
    """Bearer token clients must present; generated and stored in the state folder when unset."""
    event_retention: int = 20000
    """Events kept for watch resumption; a watch from an older ``resourceVersion`` gets ``410 Gone``."""
    max_request_bytes: int = 3 * 1024 * 1024
    """Largest request body accepted (Kubernetes' 3 MiB); a larger one gets ``413``."""
    max_object_bytes: int = 1536 * 1024
    """Largest object stored, as JSON (etcd's 1.5 MiB request limit); a larger one gets ``413``."""
    max_nesting_depth: int = 100
    """Deepest nesting of objects and lists in a request body."""
    max_yaml_values: int = 100_000
    """Most values a YAML body may expand to through its aliases (a 465-byte alias bomb expands to
    hundreds of millions)."""
    namespaces: tuple[str, ...] = (
        "default",
        "kube-system",
        "kube-public",
        "knative-serving",
        "knative-eventing",
    )
    """Namespaces created at start when missing."""
