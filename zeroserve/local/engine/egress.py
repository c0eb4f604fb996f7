"""The gateway as the instances' HTTP proxy to hosts outside the platform, and who may use it.

Instances get the gateway as ``HTTP_PROXY``, so their requests to cluster names route through it.
Requests for hosts outside the platform are forwarded only when egress is enabled, and then only with
the proxy credentials that only instances get (``http://zeroserve:<token>@127.0.0.1:<port>``; httpx,
requests and urllib send them as ``Proxy-Authorization: Basic ...``): the gateway is no open proxy.
"""

from __future__ import annotations

import base64
import hmac

from zeroserve.local.engine.routing import RoutingTable

__all__ = ["EGRESS_USER", "EgressPolicy", "egress_proxy_url", "is_external"]

EGRESS_USER = "zeroserve"
"""The user name in the proxy credentials instances use for egress."""

_CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local")


def egress_proxy_url(host: str, port: int, token: str | None) -> str:
    """The ``HTTP_PROXY`` an instance gets: the gateway, with the egress credentials when there are any.

    Args:
        host: the gateway's address.
        port: its port.
        token: the egress token (``None``: egress is off, no credentials).

    Returns:
        ``http://[zeroserve:<token>@]host:port``.
    """
    userinfo = f"{EGRESS_USER}:{token}@" if token else ""
    return f"http://{userinfo}{host}:{port}"


def is_external(host: str, table: RoutingTable) -> bool:
    """Whether a Host names something outside the platform.

    Not external: localhost, cluster names (``*.svc``, ``*.svc.cluster.local``), names under the
    platform's domain, and ``<name>.<namespace>`` short names of a namespace the platform routes in
    (or ``default``). Everything else with a dot is (``httpbin.org``, ``10.0.0.5:9000``).

    Args:
        host: the Host header (a port is ignored).
        table: the gateway's routes (domain and namespaces).

    Returns:
        Whether it is outside.
    """
    name = host.split(":", 1)[0].lower()
    if not name or name in ("localhost", "127.0.0.1") or "." not in name:
        return False
    if name.endswith(_CLUSTER_SUFFIXES) or name.endswith("." + table.domain.lower()):
        return False
    labels = name.split(".")
    return not (len(labels) == 2 and labels[1] in table.namespaces)


class EgressPolicy:
    """Decides whether a request for an outside host may be forwarded."""

    def __init__(self, token: str | None) -> None:
        """Create the policy.

        Args:
            token: the credentials' password instances get; ``None`` lets any caller through (for an
                embedding that has no instances of its own).
        """
        self._expected = (
            b"Basic " + base64.b64encode(f"{EGRESS_USER}:{token}".encode()) if token is not None else None
        )

    def allows(self, host: str, headers: list[tuple[bytes, bytes]], table: RoutingTable) -> bool:
        """Whether to forward a request (egress being enabled).

        Args:
            host: its Host.
            headers: its raw headers (``proxy-authorization`` is checked).
            table: the gateway's routes.

        Returns:
            True for an outside host and, when a token is set, the right credentials.
        """
        if not is_external(host, table):
            return False
        if self._expected is None:
            return True
        for name, value in headers:
            if name == b"proxy-authorization":
                return hmac.compare_digest(value, self._expected)
        return False
