"""Fixtures of the data plane tests: servers on free ports, run in a background thread.

A server runs in its own thread and event loop (see ``servers_support``), so one started server is
shared by a whole session and the tests talk to it with ordinary blocking clients (httpx,
tritonclient).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zeroserve.servers import Model, ServerHandle

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from sample_models import (  # noqa: E402
    DeclaredModel,
    FailingModel,
    HeaderModel,
    LoggingModel,
    MultiOutputModel,
    SumModel,
)
from servers_support import BackgroundServer, serve_in_background  # noqa: E402

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
    server = serve_in_background(models, max_request_size=MAX_REQUEST_SIZE)
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
