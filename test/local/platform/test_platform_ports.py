"""A busy port makes ``zeroserve up`` / ``zeroserve apiserver`` exit with one line naming it and its flag."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from zeroserve.local.apiserver import ApiServerSettings
from zeroserve.local.component import PlatformContext
from zeroserve.local.platform import ApiServerComponent, Platform
from zeroserve.process.listen import PortInUse


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another process would hold: bound and listening on loopback."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _zeroserve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zeroserve", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("flags", "flag"),
    [
        (["--port", "{port}"], "--port"),
        (["--port", "0", "--gateway-port", "{port}"], "--gateway-port"),
        (["--port", "{port}", "--detach"], "--port"),
        (["--port", "0", "--gateway-port", "{port}", "--detach"], "--gateway-port"),
    ],
)
def test_up_on_a_busy_port_is_one_line_naming_the_flag(
    busy_port: int, tmp_path: Path, flags: list[str], flag: str
) -> None:
    argv = [f.format(port=busy_port) for f in flags]
    done = _zeroserve("up", *argv, "--state-dir", str(tmp_path / "state"))

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"zeroserve up: cannot listen on 127.0.0.1:{busy_port}: Address already in use; "
        f"choose another port with {flag}"
    ]
    assert not (tmp_path / "state" / "platform.json").exists()


def test_apiserver_on_a_busy_port_is_one_line(busy_port: int, tmp_path: Path) -> None:
    done = _zeroserve("apiserver", "--port", str(busy_port), "--state-dir", str(tmp_path / "state"))

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"zeroserve apiserver: cannot listen on 127.0.0.1:{busy_port}: Address already in use; "
        "choose another port with --port"
    ]
    assert "Traceback" not in done.stderr


async def test_api_server_component_reports_its_bind_as_port_in_use(busy_port: int, tmp_path: Path) -> None:
    component = ApiServerComponent(ApiServerSettings(port=busy_port, state_dir=tmp_path), crds=[])
    ctx = PlatformContext(state_dir=tmp_path, kubeconfig=tmp_path / "kubeconfig")

    with pytest.raises(PortInUse, match=f"127.0.0.1:{busy_port}: .*--port$"):
        await component.start(ctx)
    assert component.server is None


class _GatewayTakenMeanwhile:
    """An engine whose port is taken between the platform's check and its own bind (a race)."""

    name = "engine"

    def __init__(self) -> None:
        self.holder: socket.socket | None = None

    async def start(self, ctx: PlatformContext) -> None:
        self.holder = socket.socket()
        self.holder.bind((ctx.gateway_host, ctx.gateway_port))
        self.holder.listen()
        with socket.socket() as mine:
            mine.bind((ctx.gateway_host, ctx.gateway_port))

    async def stop(self) -> None:
        if self.holder is not None:
            self.holder.close()


async def test_a_gateway_bind_lost_to_a_race_is_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = _GatewayTakenMeanwhile()
    ctx = PlatformContext(state_dir=tmp_path, kubeconfig=tmp_path / "kubeconfig", gateway_port=port)
    api = ApiServerComponent(ApiServerSettings(port=0, state_dir=tmp_path), crds=[])
    platform = Platform(ctx, [api, engine])

    try:
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port}: .*--gateway-port$"):
            await platform.start()
    finally:
        await engine.stop()
    assert api.server is None, "the API server started before it is stopped again"
