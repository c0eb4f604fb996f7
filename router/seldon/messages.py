"""SeldonMessage ``meta`` bookkeeping across one request's walk, and Seldon's error shape.

The orchestrator keeps one :class:`RequestMeta` per request: ``puid`` (the client's, else generated),
``tags`` merged from every component's answer (later answers win), ``metrics`` appended,
``routing`` (unit -> the child index it routed to; ``-1`` all children, ``-2`` none) and
``requestPath`` (unit -> its image). Components are sent ``puid`` and ``tags`` only, so a metric a
component reports is counted once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestMeta", "SeldonError", "error_body", "new_puid"]


def new_puid() -> str:
    """A fresh prediction unit id (26 lower-case base-32-like characters, as Seldon's)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(26))


class SeldonError(Exception):
    """A failure answered to the client in Seldon's error shape.

    Args:
        status: the HTTP status.
        info: what went wrong, readable.
        reason: Seldon's reason code.
        body: a component's own error answer, passed through when it is Seldon's shape.
    """

    def __init__(
        self, status: int, info: str, reason: str = "ENGINE_ERROR", body: bytes | None = None
    ) -> None:
        super().__init__(info)
        self.status = status
        self.info = info
        self.reason = reason
        self.body = body


def error_body(status: int, info: str, reason: str) -> dict[str, Any]:
    """Seldon's error message: ``{"status": {"code", "info", "reason", "status": "FAILURE"}}``."""
    return {"status": {"code": status, "info": info, "reason": reason, "status": "FAILURE"}}


@dataclass
class RequestMeta:
    """The ``meta`` of one request as the walk builds it."""

    puid: str
    tags: dict[str, Any] = field(default_factory=dict)
    routing: dict[str, int] = field(default_factory=dict)
    request_path: dict[str, str] = field(default_factory=dict)
    metrics: list[Any] = field(default_factory=list)

    @classmethod
    def from_request(cls, message: dict[str, Any]) -> RequestMeta:
        """Start from a client's message: its ``meta.puid`` (or a new one) and ``meta.tags``."""
        meta = message.get("meta")
        meta = meta if isinstance(meta, dict) else {}
        puid = meta.get("puid")
        tags = meta.get("tags")
        return cls(
            puid=puid if isinstance(puid, str) and puid else new_puid(),
            tags=dict(tags) if isinstance(tags, dict) else {},
        )

    def outgoing(self, message: dict[str, Any]) -> dict[str, Any]:
        """``message`` as sent to a component: its payload with ``meta`` = puid and tags."""
        out = {k: v for k, v in message.items() if k != "meta"}
        out["meta"] = {"puid": self.puid, "tags": dict(self.tags)}
        return out

    def absorb(self, answer: dict[str, Any]) -> dict[str, Any]:
        """Merge a component's ``meta`` in; return the answer without its ``meta``."""
        meta = answer.get("meta")
        if isinstance(meta, dict):
            if isinstance(meta.get("tags"), dict):
                self.tags.update(meta["tags"])
            if isinstance(meta.get("metrics"), list):
                self.metrics.extend(meta["metrics"])
        return {k: v for k, v in answer.items() if k != "meta"}

    def to_dict(self) -> dict[str, Any]:
        """The response's ``meta``."""
        meta: dict[str, Any] = {
            "puid": self.puid,
            "tags": self.tags,
            "routing": self.routing,
            "requestPath": self.request_path,
        }
        if self.metrics:
            # an empty ``tags`` is left out: engine.oas3.json's Metric has no such field
            meta["metrics"] = [
                {k: v for k, v in m.items() if k != "tags" or v} if isinstance(m, dict) else m
                for m in self.metrics
            ]
        return meta
