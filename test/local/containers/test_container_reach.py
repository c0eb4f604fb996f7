"""What a container gets to reach the platform (its proxy, the gateway's bridge listener) and its volumes.

Plans are built for a named engine without running it; the bridge listener is a real uvicorn server on
loopback, whose peer filter is checked with a network that holds loopback and one that does not.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from zeroserve.local.engine.bridge import BridgeListener, BridgeNetwork, BridgeUnavailable, parse_network
from zeroserve.local.engine.containers import ContainerEngine, ContainerRuntime
from zeroserve.local.engine.volumes import ContainerConfigError, bind_mounts, projections, sync_volumes

PODMAN = ContainerEngine("podman", "/usr/bin/podman")
CONTAINER = {
    "image": "quay.io/acme/custom:1",
    "volumeMounts": [
        {"name": "config", "mountPath": "/etc/app/"},
        {"name": "creds", "mountPath": "/etc/creds", "readOnly": False},
        {"name": "scratch", "mountPath": "/scratch"},
        {"name": "scratch", "mountPath": "/frozen", "readOnly": True},
        {"name": "config", "mountPath": "/etc/one.txt", "subPath": "one.txt"},
        {"name": "trained", "mountPath": "/mnt/models"},
        {"name": "claim", "mountPath": "/data"},
    ],
}
VOLUMES = [
    {"name": "config", "configMap": {"name": "app"}},
    {"name": "creds", "secret": {"secretName": "creds"}},
    {"name": "scratch", "emptyDir": {}},
    {"name": "trained", "emptyDir": {}},
    {"name": "claim", "persistentVolumeClaim": {"claimName": "x"}},
]


def _env(argv: list[str]) -> dict[str, str]:
    pairs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-e"]
    return dict(p.split("=", 1) for p in pairs)


def _plan(runtime: ContainerRuntime, tmp_path: Path, **kwargs: Any) -> list[str]:
    base = {
        "HTTP_PROXY": "http://127.0.0.1:1",
        "NO_PROXY": "127.0.0.1,localhost",
        "ZEROSERVE_BROKER_TOKEN": "b",
    }
    base["ZEROSERVE_HOME"] = "/var/lib/zeroserve"  # a host path: not for the container
    return runtime.plan(
        {"image": "x"}, namespace="ns", revision="r", model_dir=tmp_path, port=4000, env=base, **kwargs
    ).argv


def test_a_bridged_container_gets_the_gateways_bridge_listener_as_its_proxy(tmp_path: Path) -> None:
    runtime = ContainerRuntime("", tmp_path, engine=PODMAN)
    asked: list[ContainerEngine] = []

    def reach(engine: ContainerEngine) -> str:
        asked.append(engine)
        return "http://zeroserve:t0k@10.88.0.1:41234"

    runtime.reach_platform = reach
    for serve in (True, False):  # init containers call the platform too (a storage initializer)
        env = _env(_plan(runtime, tmp_path, serve=serve))
        assert env["HTTP_PROXY"] == env["http_proxy"] == "http://zeroserve:t0k@10.88.0.1:41234"
        assert env["NO_PROXY"] == env["no_proxy"] == "127.0.0.1,localhost"
        assert env["ZEROSERVE_BROKER_TOKEN"] == "b" and "ZEROSERVE_HOME" not in env  # posts to the broker
    assert asked == [PODMAN]  # the listener is opened once


def test_without_a_way_in_a_bridged_container_runs_without_proxy_and_the_log_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = ContainerRuntime("", tmp_path, engine=PODMAN)
    calls = 0

    def reach(engine: ContainerEngine) -> str:
        nonlocal calls
        calls += 1
        raise BridgeUnavailable("podman network inspect podman failed: no such network")

    runtime.reach_platform = reach
    with caplog.at_level(logging.WARNING):
        assert "HTTP_PROXY" not in _env(_plan(runtime, tmp_path))
        assert "HTTP_PROXY" not in _env(_plan(runtime, tmp_path))
    assert calls == 1
    assert "containers cannot reach the platform" in caplog.text and "no such network" in caplog.text
    assert "ZEROSERVE_ENGINE_CONTAINER_NETWORK=host" in caplog.text


def test_on_the_host_network_the_loopback_gateway_is_the_proxy_and_no_listener_opens(tmp_path: Path) -> None:
    runtime = ContainerRuntime("", tmp_path, network="host", engine=PODMAN)
    runtime.reach_platform = lambda engine: pytest.fail("host mode needs no bridge listener")
    for serve in (True, False):
        argv = _plan(runtime, tmp_path, serve=serve)
        assert _env(argv)["HTTP_PROXY"] == "http://127.0.0.1:1" and "host" in argv


def test_projected_volumes_are_bind_mounted_at_their_mount_paths(tmp_path: Path) -> None:
    found = projections(VOLUMES, tmp_path / "volumes")
    objects = {("ConfigMap", "app"): {"data": {"one.txt": "1", "two.txt": "2"}}}
    objects[("Secret", "creds")] = {"data": {"token": base64.b64encode(b"t").decode()}}
    sync_volumes(found, lambda kind, _ns, name: objects.get((kind, name)), "default")
    mounts = bind_mounts(CONTAINER, found)
    folder = tmp_path / "volumes"
    assert [(m.source, m.target, m.read_only) for m in mounts] == [
        (folder / "config", "/etc/app", True),  # ConfigMaps and Secrets: read-only, as kubelet mounts them
        (folder / "creds", "/etc/creds", True),
        (folder / "scratch", "/scratch", False),
        (folder / "scratch", "/frozen", True),
        (folder / "config" / "one.txt", "/etc/one.txt", True),
    ]
    runtime = ContainerRuntime("", tmp_path, engine=PODMAN)
    argv = _plan(runtime, tmp_path, volumes=mounts)
    flags = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-v"]
    assert flags[1:] == [
        f"{folder}/config:/etc/app:ro",
        f"{folder}/creds:/etc/creds:ro",
        f"{folder}/scratch:/scratch",
        f"{folder}/scratch:/frozen:ro",
        f"{folder}/config/one.txt:/etc/one.txt:ro",
    ]


def test_a_missing_sub_path_becomes_a_folder_and_one_leaving_its_volume_is_refused(tmp_path: Path) -> None:
    found = projections(VOLUMES, tmp_path)
    made = bind_mounts({"volumeMounts": [{"name": "scratch", "mountPath": "/s", "subPath": "a/b"}]}, found)
    assert made[0].source == tmp_path / "scratch" / "a" / "b" and made[0].source.is_dir()
    for bad in ("../../etc", "/etc"):
        mount = {"name": "scratch", "mountPath": "/s", "subPath": bad}
        with pytest.raises(
            ContainerConfigError, match=r"volumeMounts\[1\]\.subPath: .* inside volume 'scratch'"
        ):
            bind_mounts({"volumeMounts": [{"name": "trained", "mountPath": "/t"}, mount]}, found)


def test_the_bridge_is_read_from_podman_4_podman_3_and_docker_inspect_output() -> None:
    podman4 = [{"name": "podman", "subnets": [{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]}]
    podman3 = [{"plugins": [{"type": "bridge", "ipam": {"ranges": [[{"subnet": "10.89.0.0/24"}]]}}]}]
    docker = [
        {
            "Name": "bridge",
            "IPAM": {"Config": [{"Subnet": "fd00::/64", "Gateway": "fd00::1"}, {"Subnet": "172.17.0.0/16"}]},
        }
    ]
    net = parse_network("podman", json.dumps(podman4))
    assert (net.gateway, net.subnets) == ("10.88.0.1", (ipaddress.ip_network("10.88.0.0/16"),))
    assert parse_network("podman", json.dumps(podman3)).gateway == "10.89.0.1"  # no gateway: the first host
    net = parse_network("bridge", json.dumps(docker))
    assert net.gateway == "172.17.0.1" and len(net.subnets) == 2  # IPv4 first
    assert net.allows("172.17.0.5") and net.allows("fd00::7") and not net.allows("192.0.2.2")
    assert not net.allows("not an address")
    with pytest.raises(BridgeUnavailable, match="network 'podman' has no subnet"):
        parse_network("podman", "[{}]")
    with pytest.raises(BridgeUnavailable, match="unreadable inspect output"):
        parse_network("podman", "Error: oops")


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


def _config(http: type[asyncio.Protocol]) -> uvicorn.Config:
    return uvicorn.Config(_hello, http=http, loop="none", lifespan="off", log_level="warning")


async def test_the_bridge_listener_serves_only_peers_inside_the_network() -> None:
    inside = BridgeNetwork("lo", "127.0.0.1", (ipaddress.ip_network("127.0.0.0/8"),))
    outside = BridgeNetwork("lo", "127.0.0.1", (ipaddress.ip_network("10.0.0.0/8"),))
    for network, served in ((inside, True), (outside, False)):
        listener = BridgeListener(_config)
        port = listener.open(network, H11Protocol)
        assert listener.open(network, H11Protocol) == port  # opened once
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                if served:
                    assert (await client.get(f"http://127.0.0.1:{port}/")).text == "hello"
                else:
                    with pytest.raises(httpx.TransportError):
                        await client.get(f"http://127.0.0.1:{port}/")
        finally:
            await listener.close(5.0)
        assert listener.address is None
