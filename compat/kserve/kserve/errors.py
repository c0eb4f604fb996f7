"""``kserve.errors``: KServe's exception names, raised and answered as zeroserve's.

Each name is (or derives from) the zeroserve error with the same status: a model that raises
``kserve.errors.InvalidInput("...")`` answers 400 ``{"error": "..."}`` (gRPC ``INVALID_ARGUMENT``)
as on KServe.
"""

from __future__ import annotations

from typing import Any

from zeroserve.servers.errors import (
    InferenceError,
    InvalidInput,
    ModelNotFound,
    ModelNotReady,
    ServerNotLive,
    ServerNotReady,
    ServingError,
    UnsupportedProtocol,
)

__all__ = [
    "InferenceError",
    "InvalidInput",
    "ModelNotFound",
    "ModelNotReady",
    "NoModelReady",
    "ServerNotLive",
    "ServerNotReady",
    "ServingError",
    "UnsupportedProtocol",
]


class NoModelReady(RuntimeError):
    """``ModelServer.start`` was given models and none of them is ready (as KServe raises)."""

    def __init__(self, models: list[Any], detail: str | None = None) -> None:
        names = ", ".join(str(getattr(m, "name", m)) for m in models)
        self.models = models
        self.detail = detail
        super().__init__(f"Models with name {names} are not ready." + (f" {detail}" if detail else ""))
