"""Calls a service step: one POST on the shared, pooled ``httpx.AsyncClient``.

Failures follow KServe's router: a transport error becomes a 500 with the error as ``cause``. A
timeout (``routerTimeouts.serviceClient`` per call, or what is left of the graph's ``timeout``)
becomes a 504 rather than KServe's 500, so callers can tell a slow model from a broken one.
"""

from __future__ import annotations

import asyncio

import httpx

from zeroserve.router.context import RequestContext, StepResponse
from zeroserve.router.errors import RoutingFailure

__all__ = ["StepClient"]


class StepClient:
    """POSTs step inputs to service URLs.

    Args:
        http: the pooled client, owned by the caller (closed by whoever created it).
        timeout: seconds allowed for each call, ``None`` for no limit (KServe's default).
    """

    def __init__(self, http: httpx.AsyncClient, *, timeout: float | None = None) -> None:
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
        timeout = self.timeout
        graph_limited = False
        if ctx.deadline is not None:
            left = ctx.deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise RoutingFailure(504, "the graph's timeout was exceeded")
            if timeout is None or left < timeout:
                timeout, graph_limited = left, True
        try:
            response = await self.http.post(
                url,
                content=body,
                headers=ctx.headers,
                timeout=httpx.Timeout(timeout),
            )
        except httpx.TimeoutException as exc:
            if graph_limited:
                raise RoutingFailure(504, "the graph's timeout was exceeded") from exc
            raise RoutingFailure(504, f'Post "{url}": timed out after {timeout:g}s') from exc
        except httpx.HTTPError as exc:
            raise RoutingFailure(500, f'Post "{url}": {exc or type(exc).__name__}') from exc
        return StepResponse(response.status_code, response.content)
