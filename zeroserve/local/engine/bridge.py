"""Containers reach the platform: the gateway's listener on the container network's host address.

In the default (publish) mode a container has a network namespace of its own, so the host's loopback,
where the gateway listens, is out of its reach. The engine's default bridge network has an address on
the host (podman's ``podman`` network: ``10.88.0.1`` on ``cni-podman0``; docker's ``bridge``:
``172.17.0.1`` on ``docker0``), which :func:`discover_bridge` reads from ``<engine> network inspect``.
:class:`BridgeListener` gives the gateway a second listener there, opened when the first container
is planned. It is bound with ``IP_FREEBIND`` (the bridge may only appear with the first container)
and serves only peers inside the network's subnets; any other connection is closed unanswered, so
the gateway is not reachable from outside the machine. Containers get it as their ``HTTP_PROXY``
(see :mod:`.containers`), as processes get the loopback listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from zeroserve.local.engine.containers import ContainerEngine

__all__ = ["BridgeListener", "BridgeNetwork", "BridgeUnavailable", "container_only", "discover_bridge"]

_LOG = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)
"""Linux's ``IP_FREEBIND``: bind an address no interface has yet (Python names it from 3.12 on)."""
DEFAULT_NETWORKS = {"podman": "podman", "docker": "bridge"}
"""The network a container joins when ``run`` names none."""


class BridgeUnavailable(Exception):
    """The engine's containers have no network address on this host that the gateway could listen on."""


@dataclass(frozen=True)
class BridgeNetwork:
    """The engine's default container network: the host's address on it, and its subnets."""

    name: str
    gateway: str
    subnets: tuple[IPNetwork, ...]

    def allows(self, address: str) -> bool:
        """Whether a peer address lies in one of the network's subnets (a container, or the host on it)."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in subnet for subnet in self.subnets)


def _pairs(node: Any) -> Iterator[tuple[str, str]]:
    """``(subnet, gateway)`` pairs anywhere in ``network inspect`` output: podman 4 (``subnets``),
    podman 3's CNI list (``plugins[].ipam.ranges``) and docker (``IPAM.Config``) all hold them."""
    if isinstance(node, dict):
        subnet = node.get("subnet", node.get("Subnet"))
        if isinstance(subnet, str) and subnet:
            yield subnet, str(node.get("gateway", node.get("Gateway")) or "")
        for value in node.values():
            yield from _pairs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _pairs(value)


def parse_network(name: str, text: str) -> BridgeNetwork:
    """Read a network's subnets and host address from ``<engine> network inspect`` JSON.

    Args:
        name: the network's name (for messages).
        text: the command's output.

    Returns:
        The network; IPv4 preferred, the gateway defaulting to the subnet's first address.

    Raises:
        BridgeUnavailable: the output names no subnet.
    """
    try:
        data = json.loads(text or "null")
    except ValueError as err:
        raise BridgeUnavailable(f"network {name!r}: unreadable inspect output ({err})") from err
    subnets: list[IPNetwork] = []
    gateways: list[tuple[IPNetwork, str]] = []
    for subnet_text, gateway in _pairs(data):
        try:
            subnet = ipaddress.ip_network(subnet_text, strict=False)
            host = str(ipaddress.ip_address(gateway)) if gateway else str(next(subnet.hosts()))
        except (ValueError, StopIteration):
            continue
        if subnet not in subnets:
            subnets.append(subnet)
            gateways.append((subnet, host))
    if not gateways:
        raise BridgeUnavailable(f"network {name!r} has no subnet")
    gateways.sort(key=lambda pair: pair[0].version)
    return BridgeNetwork(name, gateways[0][1], tuple(subnets))


def discover_bridge(engine: ContainerEngine, *, timeout: float = 30.0) -> BridgeNetwork:
    """The engine's default network, as its containers and the host see it.

    Args:
        engine: the container engine.
        timeout: seconds ``network inspect`` may take.

    Returns:
        The network.

    Raises:
        BridgeUnavailable: rootless podman (its bridge lives in a namespace of its own), or the
            network cannot be inspected.
    """
    if engine.name == "podman" and os.geteuid() != 0:
        raise BridgeUnavailable(
            "rootless podman's container network is not on this host's side "
            "(ZEROSERVE_ENGINE_CONTAINER_NETWORK=host lets containers reach the platform)"
        )
    name = DEFAULT_NETWORKS.get(engine.name, "bridge")
    try:
        proc = subprocess.run(
            [engine.path, "network", "inspect", name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BridgeUnavailable(f"{engine.name} network inspect {name} failed: {err}") from err
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        why = lines[-1].strip() if lines else f"exit code {proc.returncode}"
        raise BridgeUnavailable(f"{engine.name} network inspect {name} failed: {why}")
    return parse_network(name, proc.stdout)


def container_only(protocol: type[asyncio.Protocol], network: BridgeNetwork) -> type[asyncio.Protocol]:
    """A uvicorn protocol class that serves only peers inside ``network`` (others: closed unanswered).

    Args:
        protocol: the protocol class that serves the connections it accepts.
        network: the container network.

    Returns:
        The class, to pass as ``uvicorn.Config(http=...)``.
    """

    class ContainerOnly(asyncio.Protocol):
        def __init__(self, **kwargs: Any) -> None:
            self._inner = protocol(**kwargs)

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            if not network.allows(address):
                _LOG.warning("refused a connection from %s on the containers' listener", address or "?")
                if isinstance(transport, asyncio.Transport):
                    transport.abort()
                else:
                    transport.close()
                return
            transport.set_protocol(self._inner)
            self._inner.connection_made(transport)

        def data_received(self, data: bytes) -> None:  # only before connection_made handed over
            return

    return ContainerOnly


class BridgeListener:
    """The gateway's listener on the container network's host address (opened once, on first use)."""

    def __init__(self, config: Callable[[type[asyncio.Protocol]], uvicorn.Config]) -> None:
        """Describe the listener.

        Args:
            config: makes the gateway's server config with a protocol class.
        """
        self._config = config
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self.address: tuple[str, int] | None = None
        """``(host, port)`` once open."""

    def open(self, network: BridgeNetwork, protocol: type[asyncio.Protocol]) -> int:
        """Listen on the network's host address and serve its peers (call in the event loop's thread).

        Args:
            network: the container network.
            protocol: the gateway's protocol class.

        Returns:
            The port.

        Raises:
            OSError: the address cannot be bound.
        """
        if self.address is not None:
            return self.address[1]
        family = socket.AF_INET6 if ":" in network.gateway else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with contextlib.suppress(OSError):  # without it the bridge must exist already
                sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)  # IPv6 sockets too
            sock.bind((network.gateway, 0))
            sock.listen(2048)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        port = int(sock.getsockname()[1])
        server = uvicorn.Server(self._config(container_only(protocol, network)))
        self._server = server
        self._socket = sock
        # _serve, not serve: the platform owns the process's signal handlers
        self._task = asyncio.get_running_loop().create_task(
            server._serve(sockets=[sock]), name="zeroserve-gateway-containers"
        )
        self.address = (network.gateway, port)
        _LOG.info("gateway listens for containers on %s:%d (network %s)", network.gateway, port, network.name)
        return port

    async def close(self, limit: float) -> None:
        """Stop serving (connections get ``limit`` seconds) and close the socket; safe to call twice.

        Args:
            limit: the most seconds to wait for the server.
        """
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            _, pending = await asyncio.wait([self._task], timeout=limit)
            for task in pending:
                task.cancel()
        self._server = None
        self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self.address = None
