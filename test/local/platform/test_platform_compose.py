"""Platform composition in-process: the API server first, components in order, reverse stop, rollback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import kubernetes
import pytest

from zeroserve.local.apiserver import ApiServerSettings
from zeroserve.local.component import Component, PlatformContext
from zeroserve.local.platform import ApiServerComponent, Platform, load_components


class NamespaceProbe:
    """A component that talks to the API server the way real ones do: the kubeconfig, through the client."""

    name = "probe"

    def __init__(self, journal: list[str], fail: bool = False) -> None:
        self.journal = journal
        self.fail = fail
        self.namespaces: list[str] = []

    async def start(self, ctx: PlatformContext) -> None:
        def list_namespaces() -> list[str]:
            api = kubernetes.config.new_client_from_config(config_file=str(ctx.kubeconfig))
            try:
                return [ns.metadata.name for ns in kubernetes.client.CoreV1Api(api).list_namespace().items]
            finally:
                api.close()

        # the blocking client must not run on the loop that serves the API
        self.namespaces = await asyncio.to_thread(list_namespaces)
        self.journal.append("probe started")
        if self.fail:
            raise RuntimeError("probe refused to start")

    async def stop(self) -> None:
        self.journal.append("probe stopped")


def _platform(tmp_path: Path, *components: Component) -> Platform:
    ctx = PlatformContext(state_dir=tmp_path, kubeconfig=tmp_path / "kubeconfig")
    api = ApiServerComponent(ApiServerSettings(port=0, state_dir=tmp_path), crds=[])
    return Platform(ctx, [api, *components])


async def test_components_start_after_the_api_server_and_stop_in_reverse(tmp_path: Path) -> None:
    journal: list[str] = []
    probe = NamespaceProbe(journal)
    platform = _platform(tmp_path, probe)

    await platform.start()
    described = platform.describe()
    await platform.stop()
    await platform.stop()

    assert {"default", "kube-system", "knative-serving", "knative-eventing"} <= set(probe.namespaces)
    assert described["components"] == ["apiserver", "probe"]
    assert described["api_url"].startswith("https://127.0.0.1:")
    assert journal == ["probe started", "probe stopped"]


async def test_a_failing_component_stops_those_already_started(tmp_path: Path) -> None:
    journal: list[str] = []
    platform = _platform(tmp_path, NamespaceProbe(journal), NamespaceProbe(journal, fail=True))

    with pytest.raises(RuntimeError, match="probe refused to start"):
        await platform.start()

    assert journal == ["probe started", "probe started", "probe stopped"]


def test_component_entries_are_module_colon_class() -> None:
    with pytest.raises(ValueError, match="module:Class"):
        load_components(["zeroserve.local.platform.ApiServerComponent"])
    with pytest.raises(ValueError, match="not a platform component"):
        load_components(["zeroserve.local.apiserver.settings:ApiServerSettings"])
    with pytest.raises(ModuleNotFoundError):
        load_components(["zeroserve.local.nothing_here:Thing"])
