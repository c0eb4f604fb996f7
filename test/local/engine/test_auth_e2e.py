"""KServe's ``serving.kserve.io/enable-auth`` end to end: an InferenceService applied with kubectl is
served through the gateway only to callers with a ServiceAccount token of its namespace
(``kubectl create token``), on its own host, its predictor's host and the path prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from support.waiting import wait_until_async

from .conftest import ServingPlatform, condition_of, fast_settings, serving_platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BODY = {"instances": [[6.8, 2.8, 4.8, 1.4]]}


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[ServingPlatform]:
    async with serving_platform(
        tmp_path, fast_settings(use_zygote=True, poll_interval=0.2), controller=True
    ) as p:
        yield p


def _isvc(name: str, uri: str, auth: bool) -> str:
    metadata: dict[str, object] = {"name": name, "namespace": "default"}
    if auth:
        metadata["annotations"] = {"serving.kserve.io/enable-auth": "true"}
    return yaml.safe_dump(
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": metadata,
            "spec": {"predictor": {"sklearn": {"storageUri": uri}}},
        }
    )


async def test_enable_auth_needs_a_token_of_the_namespace(platform: ServingPlatform, tmp_path: Path) -> None:
    from zeroserve.servers.testing import train_iris_sklearn

    model = train_iris_sklearn(tmp_path / "model")
    await platform.kubectl_async("apply", "-f", "-", input=_isvc("private", f"file://{model}", auth=True))
    await platform.kubectl_async("apply", "-f", "-", input=_isvc("public", f"file://{model}", auth=False))
    await platform.kubectl_async("create", "namespace", "elsewhere")
    token = (await platform.kubectl_async("create", "token", "default")).strip()
    other = (await platform.kubectl_async("create", "token", "default", "-n", "elsewhere")).strip()

    async def ready() -> bool:
        objs = [await platform.get("isvc", name) for name in ("private", "public")]
        return all(condition_of(obj).get("status") == "True" for obj in objs)

    await wait_until_async(ready, 90, interval=0.3, retry_on=())
    predict = "/v1/models/private:predict"
    host = {"Host": "private.default.example.com"}
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30) as client:

        async def answers(path: str, headers: dict[str, str]) -> int:
            return (await client.post(path, json=BODY, headers=headers)).status_code

        async def routed() -> bool:
            return await answers(predict, {**host, "Authorization": f"Bearer {token}"}) == 200

        await wait_until_async(routed, 30, interval=0.2, retry_on=())
        missing = await client.post(predict, json=BODY, headers=host)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in missing.json()["error"]
        assert await answers(predict, {**host, "Authorization": "Bearer not-a-token"}) == 401
        assert await answers(predict, {**host, "Authorization": f"Bearer {token[:-3]}abc"}) == 401
        assert await answers(predict, {**host, "Authorization": f"Bearer {other}"}) == 403
        good = await client.post(predict, json=BODY, headers={**host, "Authorization": f"Bearer {token}"})
        assert good.status_code == 200 and good.json() == {"predictions": [1]}
        # the predictor's own host and the path prefix are guarded as well
        predictor = {"Host": "private-predictor.default.svc.cluster.local"}
        assert await answers(predict, predictor) == 401
        assert await answers(predict, {**predictor, "Authorization": f"Bearer {token}"}) == 200
        assert await answers(f"/serving/default/private{predict}", {}) == 401
        # a service without the annotation needs nothing
        assert await answers("/v1/models/public:predict", {"Host": "public.default.example.com"}) == 200
