"""The gateway's and the API server's ``/metrics`` pass promtool, with Knative's revision metrics and
the cold-start histogram of a revision woken from zero."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from zeroserve.apis.crds import all_crds
from zeroserve.local.apiserver.server import run_in_thread
from zeroserve.local.apiserver.settings import ApiServerSettings
from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.images import ImageTable
from zeroserve.local.engine.revision import RevisionSpec
from zeroserve.local.engine.routing import RouteEntry
from zeroserve.local.engine.settings import EngineSettings

from .promtool import promtool_lint
from .test_metrics import sample

pytestmark = pytest.mark.e2e

STANDIN = Path(__file__).parents[1] / "local" / "engine" / "standin_server.py"
IMAGE = "test.local/observability-standin:latest"


async def test_gateway_metrics_carry_knative_names_and_the_cold_start(tmp_path: Path) -> None:
    images = ImageTable.load()
    images.add(IMAGE, ["python", str(STANDIN)])
    settings = EngineSettings(allow_zero_initial_scale=True, use_zygote=False, gpus=[], ready_timeout=30.0)
    engine = Engine(settings, tmp_path, images=images, resolve_model=Path)
    await engine.start("127.0.0.1", 0)
    try:
        spec = RevisionSpec(
            namespace="default",
            name="cold-00001",
            service="cold",
            container={"image": IMAGE, "args": []},
            annotations={"autoscaling.knative.dev/initial-scale": "0"},
        )
        engine.ensure_revision(spec)
        engine.set_routes([RouteEntry("default", "cold", (("cold-00001", 100),))])
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{engine.gateway_port}", timeout=30
        ) as client:
            for _ in range(2):  # the first wakes the revision from zero
                answer = await client.get("/", headers={"Host": "cold.default.example.com"})
                assert answer.status_code == 200, answer.text
            text = (await client.get("/metrics")).text
    finally:
        await engine.stop()
    promtool_lint(text.encode(), "the gateway")
    revision = {"namespace_name": "default", "revision_name": "cold-00001"}
    assert sample(text, "zeroserve_revision_cold_start_seconds_count", **revision) == 1
    assert 0 < sample(text, "zeroserve_revision_cold_start_seconds_sum", **revision) < 30
    assert (
        sample(
            text, "revision_request_count_total", response_code="200", response_code_class="2xx", **revision
        )
        == 2
    )
    assert sample(text, "revision_request_latencies_count", **revision) == 2
    assert sample(text, "autoscaler_actual_pods", **revision) == 1
    assert sample(text, "activator_request_concurrency", **revision) == 0
    assert (
        sample(
            text, "zeroserve_engine_requests_total", namespace="default", revision="cold-00001", code="200"
        )
        == 2
    )


def test_api_server_metrics_pass_promtool(tmp_path: Path) -> None:
    settings = ApiServerSettings(port=0, in_memory=True, state_dir=tmp_path / "api")
    with run_in_thread(settings, crds=all_crds()) as server:
        headers = {"Authorization": f"Bearer {server.token}"}
        verify = ssl.create_default_context(cafile=str(server.ca_cert)) if server.ca_cert else False
        with httpx.Client(base_url=server.url, headers=headers, verify=verify, timeout=10) as client:
            assert client.get("/api/v1/namespaces/default/configmaps").status_code == 200
            assert client.get("/api/v1/namespaces/default/configmaps/missing").status_code == 404
            text = client.get("/metrics").content
    promtool_lint(text, "the API server")
