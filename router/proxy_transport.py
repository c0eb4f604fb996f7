"""An httpx transport that sends each step call direct or through the proxy the environment names.

The local platform gives every instance ``HTTP_PROXY`` (its gateway) and ``NO_PROXY``, so the router
reaches cluster addresses with no code of its own. httpx's client applies those variables inside
``AsyncClient.send``, together with auth, redirects and a cookie jar that graph steps never use (a
quarter of a step call's CPU); the router calls a transport directly instead, so the proxy choice is
made here, with public httpx parts only: one pooled :class:`httpx.AsyncHTTPTransport` for direct
calls and one per configured proxy.

The variables read are httpx's and curl's: ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` (lower case
first, as curl does) and ``NO_PROXY``: comma-separated hosts (``host`` matches it and its
subdomains, a leading ``.`` too), ``host:port`` entries, IP addresses, or ``*`` for every host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

__all__ = ["ProxyFromEnvironmentTransport", "environment_proxies"]


def _variable(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name.lower()) or environ.get(name.upper()) or "").strip()


def environment_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """The proxy URL per URL scheme from ``*_PROXY`` variables.

    Args:
        environ: the environment to read.

    Returns:
        ``{"http": url, "https": url}`` for the schemes with a proxy (``ALL_PROXY`` fills both).
    """
    fallback = _variable(environ, "all_proxy")
    proxies = {scheme: _variable(environ, f"{scheme}_proxy") or fallback for scheme in ("http", "https")}
    return {scheme: url for scheme, url in proxies.items() if url}


class _NoProxy:
    """The ``NO_PROXY`` list: whether a host (and port) is reached directly."""

    def __init__(self, raw: str) -> None:
        self.everything = False
        self.entries: list[tuple[str, int | None]] = []
        for item in raw.split(","):
            entry = item.strip().lower()
            if not entry:
                continue
            if entry == "*":
                self.everything = True
                continue
            host, port = entry, None
            if entry.count(":") == 1:  # host:port (an IPv6 address has several colons)
                name, _, digits = entry.partition(":")
                if digits.isdigit():
                    host, port = name, int(digits)
            self.entries.append((host.strip("[]").lstrip("."), port))

    def bypasses(self, host: str, port: int | None) -> bool:
        if self.everything:
            return True
        host = host.lower()
        for entry, entry_port in self.entries:
            if entry_port is not None and entry_port != port:
                continue
            if host == entry or host.endswith("." + entry):
                return True
        return False


class ProxyFromEnvironmentTransport(httpx.AsyncBaseTransport):
    """Routes each request to the direct pool or to the proxy of its scheme, as the environment says.

    Args:
        limits: the pool limits of each underlying transport.
        environ: the environment to read the proxy variables from (``os.environ`` by default).
    """

    def __init__(self, *, limits: httpx.Limits, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.no_proxy = _NoProxy(_variable(env, "no_proxy"))
        self.direct = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
        self.proxied = {
            scheme: httpx.AsyncHTTPTransport(limits=limits, proxy=url, trust_env=False)
            for scheme, url in environment_proxies(env).items()
        }
        self._chosen: dict[tuple[str, str, int | None], httpx.AsyncBaseTransport] = {}

    def transport_for(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        """The transport that carries requests for ``url`` (remembered per scheme, host and port).

        Args:
            url: the request's URL.

        Returns:
            The proxy's transport, or the direct one when no proxy applies.
        """
        key = (url.scheme, url.host, url.port)
        chosen = self._chosen.get(key)
        if chosen is None:
            proxy = self.proxied.get(url.scheme)
            if proxy is None or self.no_proxy.bypasses(url.host, url.port or _default_port(url.scheme)):
                chosen = self.direct
            else:
                chosen = proxy
            self._chosen[key] = chosen
        return chosen

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on the transport :meth:`transport_for` picks."""
        return await self.transport_for(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        """Close every pool."""
        for transport in (self.direct, *self.proxied.values()):
            await transport.aclose()


def _default_port(scheme: str) -> int | None:
    return {"http": 80, "https": 443}.get(scheme)
