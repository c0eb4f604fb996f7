"""Fixtures for router tests: real step services over HTTP and routers built in-process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from prometheus_client import CollectorRegistry

from zeroserve.router.app import RouterApp, create_app
from zeroserve.router.planner import plan_graph
from zeroserve.router.proxy_transport import ProxyFromEnvironmentTransport

from .services import ServiceThread, StepServices


@pytest.fixture(scope="session")
def step_services() -> Iterator[tuple[str, StepServices]]:
    """The step services' base URL and app (its ``calls`` counter), shared by the session."""
    app = StepServices()
    thread = ServiceThread(app).start()
    yield thread.url, app
    thread.stop()


@pytest.fixture(scope="session")
def svc(step_services: tuple[str, StepServices]) -> str:
    """Base URL of the step services."""
    return step_services[0]


@pytest.fixture
def calls(step_services: tuple[str, StepServices]) -> Any:
    """The per-path call counter of the step services, cleared for the test."""
    step_services[1].calls.clear()
    return step_services[1].calls


RouterFactory = Callable[..., contextlib.AbstractAsyncContextManager[tuple[httpx.AsyncClient, RouterApp]]]


@pytest.fixture(params=["aiohttp", "httpx"])
def router(request: pytest.FixtureRequest) -> RouterFactory:
    """Build a router for a graph document and a client that calls it in-process.

    Every test using it runs with both step clients the CLI builds (aiohttp, its default, and the
    httpx transport).
    Usage: ``async with router(spec, propagate_headers=[...]) as (client, app): ...``.
    """
    kind: str = request.param

    @contextlib.asynccontextmanager
    async def build(
        document: dict[str, Any],
        *,
        propagate_headers: list[str] | None = None,
        state_dir: Path | None = None,
        seed: int = 1,
    ) -> AsyncIterator[tuple[httpx.AsyncClient, RouterApp]]:
        graph = plan_graph(document)
        step_client = (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
            if kind == "aiohttp"
            else ProxyFromEnvironmentTransport(limits=httpx.Limits(), environ={})
        )
        async with step_client as http:
            app = create_app(
                graph,
                http=http,
                registry=CollectorRegistry(),
                propagate_headers=propagate_headers or [],
                state_dir=state_dir,
                seed=seed,
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
                yield client, app

    return build
