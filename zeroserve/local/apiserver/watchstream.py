"""Watch responses: a registered watcher turned into a chunked stream of JSON watch events.

Replays the backlog (current state or the event log after ``resourceVersion``), marks the end of initial
events with a bookmark when asked, then streams live changes until ``timeoutSeconds``, the client
leaving, or server shutdown; idle watches that allow bookmarks get one periodically. A version older
than the event log yields the ``ERROR`` event with ``410 Expired`` that clients expect.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from zeroserve.local.apiserver import errors
from zeroserve.local.apiserver.registry import Registry
from zeroserve.local.apiserver.resources import ResourceType
from zeroserve.local.apiserver.selectors import Selector
from zeroserve.local.apiserver.tables import table_for
from zeroserve.local.apiserver.watch import WatchEvent

__all__ = ["WatchOptions", "watch_response"]


@dataclass(frozen=True)
class WatchOptions:
    """What a watch request asked for."""

    version: str
    namespace: str | None
    selectors: tuple[Selector, ...]
    resource_version: str | None
    timeout: float
    initial_events: bool = False
    bookmarks: bool = False
    bookmark_interval: float = 60.0
    table: bool = False
    include_object: str = "Metadata"


def watch_response(registry: Registry, rt: ResourceType, options: WatchOptions) -> Response:
    """Open a watch and stream it.

    Args:
        registry: the registry to watch.
        rt: the resource type.
        options: the request's watch parameters.

    Returns:
        The streaming response (or a one-event response for an expired version).
    """
    try:
        watcher, backlog = registry.watch(
            rt, options.namespace, options.selectors, options.resource_version, initial=options.initial_events
        )
    except errors.ApiError as exc:
        if exc.code != 410:
            raise
        expired = orjson.dumps({"type": "ERROR", "object": exc.to_status()}) + b"\n"
        return Response(expired, media_type="application/json")
    version_def = rt.version(options.version) or rt.storage_version
    state = {"headers": True}

    def encode(event: WatchEvent) -> bytes:
        obj = registry.output(rt, options.version, event.object)
        if options.table:
            obj = table_for(
                version_def, [obj], include_object=options.include_object, headers=state["headers"]
            )
            state["headers"] = False
        return orjson.dumps({"type": event.type, "object": obj}) + b"\n"

    def bookmark(initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(registry.resource_version)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": rt.kind, "apiVersion": rt.api_version(options.version), "metadata": meta}
        return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"

    async def stream() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + options.timeout
        try:
            for event in backlog:
                yield encode(event)
            if options.initial_events:
                yield bookmark(initial_end=True)
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                wait = min(remaining, options.bookmark_interval) if options.bookmarks else remaining
                try:
                    live = await asyncio.wait_for(watcher.queue.get(), wait)
                except TimeoutError:
                    if options.bookmarks and loop.time() < deadline:
                        yield bookmark()  # an idle watch learns the current version
                        continue
                    return
                if live is None:
                    return
                yield encode(live)
        finally:
            registry.unwatch(watcher)

    return StreamingResponse(stream(), media_type="application/json")
