"""End to end: KServe InferenceServices through kubectl, the controller and the engine, served by the
real sklearn model server forked from the zygote, requests through the gateway."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support.waiting import wait_until_async

from zeroserve.local.engine.gateway import REVISION_HEADER
from zeroserve.local.engine.instances import InstanceState

from .conftest import ServingPlatform, condition_of, fast_settings, serving_platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

V1_BODY = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}
V2_BODY = {
    "inputs": [
        {
            "name": "input-0",
            "shape": [2, 4],
            "datatype": "FP32",
            "data": [6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6],
        }
    ]
}


def _isvc(name: str, uri: str, **predictor: Any) -> str:
    spec: dict[str, Any] = {"sklearn": {"storageUri": uri}, **predictor}
    obj = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"predictor": spec},
    }
    return yaml.safe_dump(obj)


@pytest.fixture(scope="module")
def iris_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from zeroserve.servers.testing import train_iris_sklearn

    root = tmp_path_factory.mktemp("models")
    return train_iris_sklearn(root / "v1"), train_iris_sklearn(root / "v2")


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[ServingPlatform]:
    settings = fast_settings(use_zygote=True, poll_interval=0.2)
    async with serving_platform(tmp_path, settings, controller=True) as p:
        assert p.component.engine is not None
        await p.component.engine.wait_warm()
        yield p


async def _isvc_condition(
    platform: ServingPlatform, name: str, status: str, within: float = 60
) -> dict[str, Any]:
    holder: dict[str, Any] = {}

    async def check() -> bool:
        holder["obj"] = obj = await platform.get("isvc", name)
        return condition_of(obj).get("status") == status

    try:
        await wait_until_async(check, within, interval=0.2, retry_on=())
    except AssertionError as err:
        raise AssertionError(f"isvc {name} never {status}: {holder.get('obj', {}).get('status')}") from err
    return holder["obj"]


async def _routable(platform: ServingPlatform, name: str) -> None:
    """Wait until the InferenceService's HTTPRoute is Accepted by the local gateway (installed)."""

    async def accepted() -> bool:
        try:
            route = await platform.get("httproute", name)
        except Exception:
            return False
        parents = (route.get("status") or {}).get("parents") or []
        return bool(parents) and all(
            any(c.get("type") == "Accepted" and c.get("status") == "True" for c in p.get("conditions", []))
            for p in parents
        )

    await wait_until_async(accepted, 30, interval=0.1, retry_on=())


def _revisions(platform: ServingPlatform, prefix: str) -> list[Any]:
    engine = platform.component.engine
    assert engine is not None
    return [rev for (_, name), rev in engine.revisions.items() if name.startswith(prefix)]


async def test_predict_v1_v2_by_host_and_path_then_scale_to_zero_and_back(
    platform: ServingPlatform, iris_models: tuple[Path, Path]
) -> None:
    await platform.kubectl_async(
        "apply", "-f", "-", input=_isvc("iris", f"file://{iris_models[0]}", minReplicas=0)
    )
    isvc = await _isvc_condition(platform, "iris", "True")
    await _routable(platform, "iris")
    assert isvc["status"]["url"] == "http://iris.default.example.com"
    host = {"Host": "iris.default.example.com"}
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30) as client:
        v1 = await client.post("/v1/models/iris:predict", json=V1_BODY, headers=host)
        assert v1.status_code == 200, v1.text
        assert v1.json() == {"predictions": [1, 1]}
        assert v1.headers[REVISION_HEADER] == "iris-predictor-00001"
        v2 = await client.post("/v2/models/iris/infer", json=V2_BODY, headers=host)
        assert v2.status_code == 200, v2.text
        assert v2.json()["outputs"][0]["data"] == [1, 1]
        by_path = await client.post("/serving/default/iris/v1/models/iris:predict", json=V1_BODY)
        assert by_path.json() == {"predictions": [1, 1]}
        cluster_local = await client.post(
            "/v1/models/iris:predict",
            json=V1_BODY,
            headers={"Host": "iris-predictor.default.svc.cluster.local"},
        )
        assert cluster_local.status_code == 200

        # minReplicas 0: idle for the (test) stable window + grace, the revision scales to zero
        (rev,) = _revisions(platform, "iris-predictor-")

        async def at_zero() -> bool:
            return not rev.instances

        await wait_until_async(at_zero, 20, interval=0.1, retry_on=())
        revision = await platform.get("revision", "iris-predictor-00001")
        assert (
            revision["status"]["actualReplicas"] == 0 or condition_of(revision, "Active")["status"] != "False"
        )
        started = time.perf_counter()
        again = await client.post("/v1/models/iris:predict", json=V1_BODY, headers=host)
        from_zero = time.perf_counter() - started
        assert again.status_code == 200, again.text
        assert again.json() == {"predictions": [1, 1]}
        print(f"request from zero answered in {from_zero * 1000:.0f} ms")
        assert from_zero < 5.0


async def test_canary_split_rollback_and_promote(
    platform: ServingPlatform, iris_models: tuple[Path, Path]
) -> None:
    v1, v2 = (f"file://{p}" for p in iris_models)
    await platform.kubectl_async("apply", "-f", "-", input=_isvc("flower", v1, minReplicas=1))
    await _isvc_condition(platform, "flower", "True")
    await _routable(platform, "flower")
    await platform.kubectl_async(
        "apply", "-f", "-", input=_isvc("flower", v2, minReplicas=1, canaryTrafficPercent=20)
    )
    host = {"Host": "flower.default.example.com"}
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30, limits=limits) as client:

        async def split(n: int) -> Counter[str]:
            sem = asyncio.Semaphore(20)

            async def one() -> str:
                async with sem:
                    r = await client.post("/v1/models/flower:predict", json=V1_BODY, headers=host)
                    assert r.status_code == 200, r.text
                    return r.headers[REVISION_HEADER]

            return Counter(await asyncio.gather(*(one() for _ in range(n))))

        async def both_serving() -> bool:
            return len(await split(40)) == 2

        await wait_until_async(both_serving, 60, interval=0.3, retry_on=())
        counts = await split(1000)
        # Binomial(1000, 0.2): sd 12.6; allow 4 sd
        assert set(counts) == {"flower-predictor-00001", "flower-predictor-00002"}
        assert abs(counts["flower-predictor-00002"] - 200) <= 51, counts

        # roll back: canaryTrafficPercent 0 sends everything to the last rolled-out revision
        await platform.kubectl_async(
            "apply", "-f", "-", input=_isvc("flower", v2, minReplicas=1, canaryTrafficPercent=0)
        )

        async def rolled_back() -> bool:
            return set(await split(40)) == {"flower-predictor-00001"}

        await wait_until_async(rolled_back, 30, interval=0.3, retry_on=())

        # promote: without canaryTrafficPercent the new model takes all the traffic
        await platform.kubectl_async("apply", "-f", "-", input=_isvc("flower", v2, minReplicas=1))

        async def promoted() -> bool:
            return set(await split(40)) == {"flower-predictor-00002"}

        await wait_until_async(promoted, 30, interval=0.3, retry_on=())


async def test_load_scales_out_survives_sigkill_and_scales_down(
    platform: ServingPlatform, iris_models: tuple[Path, Path]
) -> None:
    await platform.kubectl_async(
        "apply",
        "-f",
        "-",
        input=_isvc(
            "busy",
            f"file://{iris_models[0]}",
            minReplicas=1,
            maxReplicas=3,
            scaleMetric="concurrency",
            scaleTarget=1,
        ),
    )
    await _isvc_condition(platform, "busy", "True")
    await _routable(platform, "busy")
    (rev,) = _revisions(platform, "busy-predictor-")
    host = {"Host": "busy.default.example.com"}
    results: Counter[int] = Counter()
    peak = [0]
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30, limits=limits) as client:

        async def worker() -> None:
            while not stop.is_set():
                try:
                    r = await client.post("/v1/models/busy:predict", json=V1_BODY, headers=host)
                    results[r.status_code] += 1
                except httpx.HTTPError:
                    results[0] += 1

        workers = [asyncio.create_task(worker()) for _ in range(8)]
        try:

            async def scaled_out() -> bool:
                peak[0] = max(peak[0], rev.ready_count)
                return rev.ready_count >= 2

            await wait_until_async(scaled_out, 30, interval=0.1, retry_on=())
            victim = next(i for i in rev.instances if i.state is InstanceState.READY)
            victim.kill()

            async def restarted() -> bool:
                return victim not in rev.instances and rev.ready_count >= 2

            await wait_until_async(restarted, 30, interval=0.1, retry_on=())
            await asyncio.sleep(2.0)  # keep the load on the restarted set for a while
        finally:
            stop.set()
            await asyncio.gather(*workers)
    total = sum(results.values())
    failed = total - results[200]
    assert total > 100
    assert failed / total < 0.01, results
    print(f"{total} requests under load, {failed} failed, peak instances {peak[0]}")
    revision = await platform.get("revision", "busy-predictor-00001")
    assert "killed by signal 9" in condition_of(revision, "ContainerHealthy").get("message", "") or (
        condition_of(revision, "ContainerHealthy").get("status") == "True"
    )

    async def scaled_down() -> bool:
        return rev.ready_count == 1

    await wait_until_async(scaled_down, 30, interval=0.1, retry_on=())


async def test_missing_model_and_unrunnable_image_fail_with_a_reason(
    platform: ServingPlatform, tmp_path: Path
) -> None:
    await platform.kubectl_async("apply", "-f", "-", input=_isvc("ghost", f"file://{tmp_path}/no-such-model"))
    custom = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "alien", "namespace": "default"},
        "spec": {
            "predictor": {"containers": [{"name": "kserve-container", "image": "quay.io/acme/server:2"}]}
        },
    }
    await platform.kubectl_async("apply", "-f", "-", input=yaml.safe_dump(custom))

    async def explains(name: str, text: str) -> None:
        holder: dict[str, Any] = {}

        async def check() -> bool:
            holder["obj"] = obj = await platform.get("isvc", name)
            return condition_of(obj).get("status") == "False" and text in yaml.safe_dump(obj.get("status"))

        try:
            await wait_until_async(check, 60, interval=0.3, retry_on=())
        except AssertionError as err:
            raise AssertionError(f"{name}: {yaml.safe_dump(holder.get('obj', {}).get('status'))}") from err

    await explains("ghost", "no-such-model")
    await explains("alien", "cannot run locally")
