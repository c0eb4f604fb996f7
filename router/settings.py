"""The router process's settings: flags override ``ZEROSERVE_ROUTER_*`` environment variables.

KServe's and Knative's own variables are honoured too: ``PORT`` (the HTTP port),
``PROPAGATE_HEADERS`` (comma-separated header patterns) and ``POD_NAMESPACE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["RouterSettings"]


class RouterSettings(BaseSettings):
    """Settings of ``zeroserve router``."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_ROUTER_", extra="ignore", populate_by_name=True)

    graph_json: str = ""
    """The InferenceGraph spec (or whole object) as JSON."""
    http_port: int = Field(
        8080, validation_alias=AliasChoices("ZEROSERVE_ROUTER_HTTP_PORT", "PORT", "http_port")
    )
    """The HTTP port; 0 binds a free one (see ``ready_file``)."""
    host: str = "0.0.0.0"
    """The address to listen on."""
    namespace: str = Field(
        "default", validation_alias=AliasChoices("ZEROSERVE_ROUTER_NAMESPACE", "POD_NAMESPACE", "namespace")
    )
    """Namespace for ``serviceName`` steps when the graph JSON carries none."""
    propagate_headers: str = Field(
        "",
        validation_alias=AliasChoices(
            "ZEROSERVE_ROUTER_PROPAGATE_HEADERS", "PROPAGATE_HEADERS", "propagate_headers"
        ),
    )
    """Comma-separated regular expressions of header names forwarded to every step (KServe's list)."""
    state_dir: Path | None = None
    """Folder for the bandits' learned state (``bandits.json``, mode 0600; folders the router creates
    are 0700); unset: ``$ZEROSERVE_HOME`` (which the local engine sets for every instance, else
    ``~/.zeroserve``) ``/router/<namespace>/<graph>`` when the graph has bandits."""
    seed: int | None = None
    """Seed of the Splitter's random source, for reproducible splits."""
    ready_file: Path | None = None
    """Written with ``{"pid", "http_port", "grpc_port"}`` once the port is bound."""
    log_level: str = "info"
    """Root log level."""
    max_connections: int = 1000
    """Pool size of the step client (connections across all step hosts)."""
    http_client: Literal["aiohttp", "httpx"] = "aiohttp"
    """The step client: aiohttp (keeps its throughput with many requests in flight) or httpx."""

    def header_patterns(self) -> list[str]:
        """The header patterns as a list."""
        return [p.strip() for p in self.propagate_headers.split(",") if p.strip()]
