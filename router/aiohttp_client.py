"""Calls a service step on a pooled ``aiohttp.ClientSession`` (the router's default client).

Same contract as :class:`zeroserve.router.client.StepClient`: the service's status and body whatever
the status; a transport error is a 500 and a timeout a 504 :class:`RoutingFailure`. aiohttp keeps its
throughput under concurrent requests, where httpx's connection pool slows down as requests queue
(measured: one step service, 32 requests in flight: httpx ~370 requests/s, aiohttp ~7,600).
"""

from __future__ import annotations

import asyncio

import aiohttp

from zeroserve.router.context import RequestContext, StepResponse
from zeroserve.router.errors import RoutingFailure

__all__ = ["AiohttpStepClient"]


class AiohttpStepClient:
    """POSTs step inputs to service URLs on an aiohttp session.

    Args:
        session: the pooled session, owned by the caller (closed by whoever created it).
        timeout: seconds allowed for each call, ``None`` for no limit (KServe's default).
    """

    def __init__(self, session: aiohttp.ClientSession, *, timeout: float | None = None) -> None:
        self.session = session
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
        try:
            async with self.session.post(
                url, data=body, headers=ctx.headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                return StepResponse(response.status, await response.read())
        except TimeoutError as exc:
            if graph_limited:
                raise RoutingFailure(504, "the graph's timeout was exceeded") from exc
            raise RoutingFailure(504, f'Post "{url}": timed out after {timeout:g}s') from exc
        except aiohttp.ClientError as exc:
            raise RoutingFailure(500, f'Post "{url}": {exc or "the connection failed"}') from exc
