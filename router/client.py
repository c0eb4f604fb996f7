"""Calls a service step: the :class:`StepCaller` seam, and its implementation on ``httpx``.

The router takes one pooled client, injected: an ``aiohttp.ClientSession`` (the CLI's default, see
:mod:`zeroserve.router.aiohttp_client`), an httpx transport or an ``httpx.AsyncClient``;
:func:`step_caller` wraps any of them.

With a transport (the CLI's ``--http-client httpx`` builds a
:class:`~zeroserve.router.proxy_transport.ProxyFromEnvironmentTransport`, which honours
``HTTP_PROXY`` / ``NO_PROXY``) the request goes straight to it, skipping a client's auth, redirect
and cookie handling, which graph steps never use (KServe's Go client has no cookie jar either): that
is a quarter of a step call's CPU. An ``httpx.AsyncClient`` is used through its public ``send``.

Failures follow KServe's router: a transport error becomes a 500 with the error as ``cause``. A
timeout (``routerTimeouts.serviceClient`` per call, or what is left of the graph's ``timeout``)
becomes a 504 rather than KServe's 500, so callers can tell a slow model from a broken one.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import httpx

from zeroserve.router.context import RequestContext, StepResponse
from zeroserve.router.errors import RoutingFailure

__all__ = ["StepCaller", "StepClient", "step_caller"]


class StepCaller(Protocol):
    """POSTs a step's input to its service URL."""

    async def post(self, url: str, body: bytes, ctx: RequestContext) -> StepResponse:
        """Call ``url``; answer its status and body, or raise a 500 / 504 :class:`RoutingFailure`."""
        ...


def step_caller(http: Any, *, timeout: float | None = None) -> StepCaller:
    """Wrap a pooled client as a :class:`StepCaller`.

    Args:
        http: an ``aiohttp.ClientSession``, an ``httpx.AsyncBaseTransport`` or an ``httpx.AsyncClient``.
        timeout: seconds allowed for each call (``routerTimeouts.serviceClient``), ``None`` for none.

    Returns:
        The caller.
    """
    if isinstance(http, httpx.AsyncClient | httpx.AsyncBaseTransport):
        return StepClient(http, timeout=timeout)
    from zeroserve.router.aiohttp_client import AiohttpStepClient

    return AiohttpStepClient(http, timeout=timeout)


class StepClient:
    """POSTs step inputs to service URLs with httpx.

    Args:
        http: the pooled transport (called directly) or client (through ``send``), owned by the
            caller (closed by whoever created it).
        timeout: seconds allowed for each call, ``None`` for no limit (KServe's default).
    """

    def __init__(
        self, http: httpx.AsyncBaseTransport | httpx.AsyncClient, *, timeout: float | None = None
    ) -> None:
        self.http = http
        self.timeout = timeout

    async def post(self, url: str, body: bytes, ctx: RequestContext) -> StepResponse:
        """Send ``body`` to ``url`` with the request's headers.

        Args:
            url: the step's service URL.
            body: the step input.
            ctx: the request context (headers, deadline).

        Returns:
            The service's status code and body, whatever the status.

        Raises:
            RoutingFailure: 500 on a transport error, 504 on a timeout.
        """
        timeout, graph_limited = ctx.call_timeout(self.timeout, asyncio.get_running_loop().time())
        request = httpx.Request(
            "POST",
            url,
            content=body,
            headers=ctx.headers,
            extensions={"timeout": httpx.Timeout(timeout).as_dict()},
        )
        try:
            if isinstance(self.http, httpx.AsyncClient):
                response = await self.http.send(request)
                content = response.content
            else:
                response = await self.http.handle_async_request(request)
                try:
                    content = await response.aread()
                finally:
                    await response.aclose()
        except httpx.TimeoutException as exc:
            if graph_limited:
                raise RoutingFailure(504, "the graph's timeout was exceeded") from exc
            raise RoutingFailure(504, f'Post "{url}": timed out after {timeout:g}s') from exc
        except httpx.HTTPError as exc:
            raise RoutingFailure(500, f'Post "{url}": {exc or "the connection failed"}') from exc
        return StepResponse(response.status_code, content)
