"""The embedded platform: the API server plus a data-driven list of components, started in order.

``zeroserve up`` builds a :class:`PlatformContext`, starts :class:`ApiServerComponent` (which installs
the CRDs and writes the kubeconfig), then every component named in :attr:`PlatformSettings.components`
(``"module:Class"`` entries, each constructed with no arguments), and stops them in reverse order.
Components meet only through the API server and the addresses in the context.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zeroserve.local.apiserver import ApiServer, ApiServerSettings, default_state_dir
from zeroserve.local.component import Component, PlatformContext
from zeroserve.local.kubeconfig import kubeconfig_path, write_kubeconfig
from zeroserve.process.listen import PortInUse, bind_socket
from zeroserve.process.stopping import finish_within

__all__ = [
    "DEFAULT_COMPONENTS",
    "ApiServerComponent",
    "Platform",
    "PlatformSettings",
    "load_components",
    "platform_info_path",
    "port_in_use",
    "process_alive",
    "read_platform_info",
]

_log = logging.getLogger(__name__)

_COMPONENT_STOP_LIMIT = 120.0
"""Seconds one component's stop may take (the engine's bounds its own parts well below this)."""
_ADDRESS_ERRORS = (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL)


def port_in_use(exc: OSError, host: str, port: int, flag: str) -> PortInUse | None:
    """Restate a failed bind as :class:`PortInUse`, naming the address and the flag that changes it.

    Args:
        exc: what a component's start raised.
        host: the interface it was to listen on.
        port: the port it was to listen on.
        flag: the command-line flag that sets the port.

    Returns:
        The one-line error, or ``None`` when ``exc`` is not a bind failure (e.g. an unreadable file).
    """
    if isinstance(exc, PortInUse):
        return exc
    if exc.errno not in _ADDRESS_ERRORS or exc.filename is not None:
        return None
    return PortInUse(host, port, flag, os.strerror(exc.errno or errno.EADDRINUSE))


DEFAULT_COMPONENTS: tuple[str, ...] = (
    "zeroserve.local.controller:ControllerComponent",
    "zeroserve.local.engine.component:EngineComponent",
    "zeroserve.local.eventing.component:BrokerComponent",
)
"""Components ``zeroserve up`` starts after the API server, in order: the controller (InferenceService ->
Knative Services), the serving engine (which publishes the gateway address), then the broker (which
delivers through the gateway)."""


class PlatformSettings(BaseSettings):
    """How ``zeroserve up`` runs (environment prefix ``ZEROSERVE_``)."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_")

    home: Path = Field(default_factory=default_state_dir)
    """State folder (``$ZEROSERVE_HOME``, default ``~/.zeroserve``): databases, kubeconfig, logs."""
    api_port: int = 8001
    """API server port; 0 picks a free one."""
    gateway_port: int = 8080
    """Serving gateway port; 0 picks a free one."""
    domain: str = "example.com"
    """Domain of external URLs."""
    components: tuple[str, ...] = DEFAULT_COMPONENTS
    """``module:Class`` of each component after the API server, in start order."""


def platform_info_path(state_dir: Path) -> Path:
    """Returns: the file a running platform describes itself in (pid, addresses); it doubles as pid file."""
    return state_dir / "platform.json"


def process_alive(pid: int) -> bool:
    """Returns: whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def read_platform_info(state_dir: Path) -> dict[str, Any] | None:
    """Read what a running platform wrote about itself.

    Args:
        state_dir: the platform's state folder.

    Returns:
        The description, or ``None`` when there is none or its process is gone.
    """
    path = platform_info_path(state_dir)
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    try:
        alive = process_alive(int(info["pid"]))
    except (KeyError, TypeError, ValueError):
        return None
    return info if alive else None


def load_components(entries: Sequence[str]) -> list[Component]:
    """Construct components from ``module:Class`` entries.

    Args:
        entries: e.g. ``["zeroserve.local.eventing.component:BrokerComponent"]``.

    Returns:
        One instance per entry, constructed with no arguments.

    Raises:
        ValueError: for a malformed entry or an object that is not a component.
        ImportError: when a module cannot be imported.
    """
    components: list[Component] = []
    for entry in entries:
        module_name, _, attribute = entry.partition(":")
        if not module_name or not attribute:
            raise ValueError(f"component {entry!r} must be written module:Class")
        factory: Callable[[], object] = getattr(importlib.import_module(module_name), attribute)
        component = factory()
        if not isinstance(component, Component):
            raise ValueError(f"{entry} is not a platform component (needs name, start(ctx), stop())")
        components.append(component)
    return components


class ApiServerComponent:
    """The API server as the platform's first component.

    Args:
        settings: the API server's settings (its ``state_dir`` should be the platform's).
        crds: CRDs to install at start; the project's (:func:`zeroserve.apis.crds.all_crds`) when ``None``.
    """

    name = "apiserver"

    def __init__(self, settings: ApiServerSettings, crds: Sequence[dict[str, Any]] | None = None) -> None:
        self.settings = settings
        self._crds = crds
        self.server: ApiServer | None = None

    async def start(self, ctx: PlatformContext) -> None:
        """Start serving, write ``ctx.kubeconfig`` and set ``ctx.api_url``.

        Args:
            ctx: the platform context.

        Raises:
            PortInUse: the port is taken (the message names ``--port``).
        """
        crds = self._crds
        if crds is None:
            from zeroserve.apis.crds import all_crds

            crds = all_crds()
        server = ApiServer(self.settings, crds=crds)
        try:
            await server.start()
        except OSError as exc:
            await server.stop()
            busy = port_in_use(exc, self.settings.host, self.settings.port, "--port")
            if busy is None:
                raise
            raise busy from None
        self.server = server
        write_kubeconfig(ctx.kubeconfig, server.url, server.token, ca_cert=server.ca_cert)
        ctx.api_url = server.url
        if server.ca_cert is not None:
            ctx.extra["api_ca_cert"] = str(server.ca_cert)

    async def stop(self) -> None:
        """Stop the API server; safe to call twice."""
        if self.server is not None:
            await self.server.stop()
            self.server = None


class Platform:
    """Components started in order and stopped in reverse.

    Args:
        ctx: the context every component receives.
        components: the components, API server first.
    """

    def __init__(self, ctx: PlatformContext, components: Sequence[Component]) -> None:
        self.ctx = ctx
        self.components = list(components)
        self._started: list[Component] = []

    @classmethod
    def from_settings(cls, settings: PlatformSettings) -> Platform:
        """Build the platform ``zeroserve up`` runs.

        Args:
            settings: ports, state folder and component list.

        Returns:
            The (not yet started) platform.
        """
        home = settings.home.expanduser().resolve()
        ctx = PlatformContext(
            state_dir=home,
            kubeconfig=kubeconfig_path(home),
            gateway_port=settings.gateway_port,
            domain=settings.domain,
        )
        api = ApiServerComponent(ApiServerSettings(port=settings.api_port, state_dir=home))
        return cls(ctx, [api, *load_components(settings.components)])

    def check_ports(self) -> None:
        """Fail early when a fixed port the platform listens on is taken (API server, gateway).

        The ports are bound and released at once, before anything starts, so a busy port costs one
        line instead of a half-started platform; a port taken in between still fails at its bind.

        Raises:
            PortInUse: naming the address and the ``zeroserve up`` flag that changes it.
        """
        for component in self.components:
            if isinstance(component, ApiServerComponent) and component.settings.port:
                bind_socket(component.settings.host, component.settings.port, flag="--port").close()
        if self.ctx.gateway_port and any(c.name == "engine" for c in self.components):
            bind_socket(self.ctx.gateway_host, self.ctx.gateway_port, flag="--gateway-port").close()

    async def start(self) -> None:
        """Start every component in order; on a failure, stop those already started and re-raise.

        Raises:
            PortInUse: a port is taken (see :meth:`check_ports`).
        """
        self.check_ports()
        self.ctx.state_dir.mkdir(parents=True, exist_ok=True)
        for component in self.components:
            try:
                await component.start(self.ctx)
            except PortInUse:
                await self.stop()
                raise
            except OSError as exc:
                await self.stop()
                ctx = self.ctx
                busy = port_in_use(exc, ctx.gateway_host, ctx.gateway_port, "--gateway-port")
                if busy is None or component.name != "engine":
                    _log.exception("component %s failed to start", component.name)
                    raise
                raise busy from None
            except BaseException:
                _log.exception("component %s failed to start", component.name)
                await self.stop()
                raise
            self._started.append(component)
            _log.info("component %s started", component.name)

    async def stop(self) -> None:
        """Stop the started components in reverse order; errors are logged, not raised."""
        while self._started:
            component = self._started.pop()
            stop = asyncio.create_task(component.stop(), name=f"stop of component {component.name}")
            await finish_within([stop], _COMPONENT_STOP_LIMIT, _log)

    def describe(self) -> dict[str, Any]:
        """Returns: where everything is (written to ``platform.json`` and printed by ``zeroserve up``)."""
        ctx = self.ctx
        return {
            "pid": os.getpid(),
            "api_url": ctx.api_url,
            "kubeconfig": str(ctx.kubeconfig),
            "gateway_url": ctx.gateway_url,
            "domain": ctx.domain,
            "state_dir": str(ctx.state_dir),
            "components": [c.name for c in self._started],
            "extra": {k: v for k, v in ctx.extra.items() if isinstance(v, str | int | float | bool)},
        }
