"""Fixtures of the data plane tests: servers on free ports, run in a background thread.

A server runs in its own thread and event loop (see ``servers_support``), so one started server is
shared by a whole session and the tests talk to it with ordinary blocking clients (httpx,
tritonclient).

``sample_models`` and ``servers_support`` are plain modules of this folder: pytest's default
(``prepend``) import mode puts the folder of this conftest (a folder without ``__init__.py``) on
``sys.path`` before importing it, so they import by name here and in the test modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sample_models import (
    DeclaredModel,
    FailingModel,
    HeaderModel,
    LoggingModel,
    MultiOutputModel,
    SumModel,
)
from servers_support import BackgroundServer, serve_in_background

from zeroserve.servers import Model, ServerHandle

MAX_REQUEST_SIZE = 64 * 1024


@pytest.fixture(scope="session")
def main_server() -> Iterator[BackgroundServer]:
    """One server for the protocol tests, serving every model of ``sample_models`` but the slow one."""
    models: list[Model] = [
        SumModel("sum"),
        DeclaredModel("declared"),
        MultiOutputModel("multi"),
        FailingModel("failing"),
        HeaderModel("headers"),
        LoggingModel("logging"),
    ]
    server = serve_in_background(models, max_request_size=MAX_REQUEST_SIZE, enable_model_repository=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def handle(main_server: BackgroundServer) -> ServerHandle:
    """The main server's handle (ports, data plane, metrics)."""
    assert main_server.handle is not None
    return main_server.handle


@pytest.fixture(scope="session")
def http(handle: ServerHandle) -> Iterator[Any]:
    """A blocking httpx client on the main server."""
    import httpx

    with httpx.Client(base_url=handle.url, timeout=30, trust_env=False) as client:
        yield client
