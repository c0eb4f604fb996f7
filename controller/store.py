"""The small store interface the reconcile logic depends on.

Objects are plain Kubernetes JSON (``dict``). Two implementations exist: :mod:`.kube` (the only module
that imports the ``kubernetes`` client; it talks to any API server, the embedded one included) and the
in-memory test double in ``test/controller``. Errors are :mod:`.errors`' (``NotFound``, ``Conflict``,
``AlreadyExists``, ``Gone``), never a transport's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from zeroserve.controller.kinds import Kind

__all__ = ["Obj", "ObjectList", "Store", "Watch", "WatchEvent"]

Obj = dict[str, Any]
"""A Kubernetes object as JSON."""


@dataclass
class ObjectList:
    """A list answer: the items and the collection's ``resourceVersion`` to watch from."""

    items: list[Obj]
    resource_version: str


@dataclass
class WatchEvent:
    """One watch notification."""

    type: str
    """``ADDED``, ``MODIFIED``, ``DELETED`` or ``BOOKMARK``."""
    object: Obj


class Watch(Protocol):
    """An open watch: iterate for events; ``close()`` (from any thread) ends the iteration."""

    def __iter__(self) -> Iterator[WatchEvent]: ...

    def close(self) -> None: ...


class Store(Protocol):
    """Typed-by-:class:`Kind` access to an API server."""

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        """Read one object; raises ``NotFound``."""
        ...

    def list(self, kind: Kind, namespace: str | None = None, label_selector: str = "") -> ObjectList:
        """List objects of a kind, in one namespace or (``None``) in all."""
        ...

    def create(self, kind: Kind, obj: Obj) -> Obj:
        """Create; raises ``AlreadyExists``. Returns the stored object."""
        ...

    def update(self, kind: Kind, obj: Obj) -> Obj:
        """Replace (spec and metadata) at ``metadata.resourceVersion``; raises ``Conflict``."""
        ...

    def update_status(self, kind: Kind, obj: Obj) -> Obj:
        """Replace the status subresource at ``metadata.resourceVersion``; raises ``Conflict``."""
        ...

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        """Delete; raises ``NotFound``."""
        ...

    def watch(self, kind: Kind, namespace: str | None, resource_version: str, timeout_seconds: int) -> Watch:
        """Watch changes after ``resource_version``; raises ``Gone`` when it is too old."""
        ...
