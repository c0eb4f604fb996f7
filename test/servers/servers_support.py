"""Running a ModelServer in a background thread, for tests that share one server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from zeroserve.servers import Model, ModelServer, ServerHandle, ServerSettings


class BackgroundServer:
    """A :class:`ModelServer` serving in a thread of its own until :meth:`stop`.

    Args:
        models: the models to serve.
        settings: server settings (ports default to 0: free ports).
        server_kwargs: more :class:`ModelServer` arguments (registry, factories).
    """

    def __init__(self, models: Sequence[Model], settings: ServerSettings | None = None, **server_kwargs: Any):
        self.server = ModelServer(settings or ServerSettings(http_port=0, grpc_port=0), **server_kwargs)
        self.models = list(models)
        self.handle: ServerHandle | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="model-server", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                async with self.server.running(self.models) as handle:
                    self.handle = handle
                    self._started.set()
                    await self._stop.wait()
            except BaseException as exc:
                self._error = exc
                self._started.set()

        asyncio.run(main())

    def start(self, timeout: float = 30) -> ServerHandle:
        """Start serving; return the handle once every port is bound."""
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError("model server did not start")
        if self._error is not None:
            raise self._error
        assert self.handle is not None
        return self.handle

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def serve_in_background(models: Sequence[Model], **settings: Any) -> BackgroundServer:
    """A started :class:`BackgroundServer` for ``models`` with ``settings`` (free ports by default)."""
    settings.setdefault("http_port", 0)
    settings.setdefault("grpc_port", 0)
    settings.setdefault("configure_logging", False)
    server = BackgroundServer(models, ServerSettings(**settings))
    server.start()
    return server
