"""End to end: InferenceServices whose model sits in an S3 bucket that checks keys (moto with IAM on),
applied with kubectl to the embedded platform: one through the storage spec and the storage-config
Secret, one through a ServiceAccount's Secret and its serving.kserve.io/s3-* annotations, both Ready
and predicting through the gateway; wrong keys leave the predictor not ready with a readable reason."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from credentials_support import BUCKET, PREFIX, SecuredS3
from support.platform import in_thread_platform
from support.waiting import wait_until_async

from zeroserve.local.component import PlatformContext
from zeroserve.local.testing import Kubectl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BODY = {"instances": [[6.8, 2.8, 4.8, 1.4]]}


@dataclass
class Platform:
    ctx: PlatformContext
    kubectl: Kubectl

    async def run(self, *args: str, input: str | None = None) -> str:
        return (await asyncio.to_thread(self.kubectl, *args, input=input)).stdout

    async def get(self, kind: str, name: str) -> dict[str, Any]:
        return dict(json.loads(await self.run("get", kind, name, "-o", "json")))


@contextlib.asynccontextmanager
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    async with in_thread_platform(tmp_path, restart_backoff_initial=0.2) as (ctx, kubectl):
        yield Platform(ctx, kubectl)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _objects(s3: SecuredS3) -> str:
    entry = {"type": "s3", "access_key_id": s3.key_id, "secret_access_key": s3.secret}
    entry |= {"endpoint_url": s3.url, "bucket": BUCKET, "region": "us-east-1"}
    s3_annotations = {
        "serving.kserve.io/s3-endpoint": s3.host_port,
        "serving.kserve.io/s3-usehttps": "0",
        "serving.kserve.io/s3-region": "us-east-1",
    }

    def secret(name: str, data: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": "default"}
        if annotations:
            meta["annotations"] = annotations
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta,
            "data": {k: _b64(v) for k, v in data.items()},
        }

    def account(name: str, secret_name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": "default"},
            "secrets": [{"name": secret_name}],
        }

    def isvc(name: str, predictor: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"predictor": predictor},
        }

    sklearn = {"modelFormat": {"name": "sklearn"}}
    docs = [
        secret("storage-config", {"localS3": json.dumps(entry)}),
        secret(
            "s3creds", {"AWS_ACCESS_KEY_ID": s3.key_id, "AWS_SECRET_ACCESS_KEY": s3.secret}, s3_annotations
        ),
        secret(
            "badcreds", {"AWS_ACCESS_KEY_ID": s3.key_id, "AWS_SECRET_ACCESS_KEY": "wrong"}, s3_annotations
        ),
        account("loader", "s3creds"),
        account("intruder", "badcreds"),
        isvc("iris-spec", {"model": {**sklearn, "storage": {"key": "localS3", "path": PREFIX}}}),
        isvc(
            "iris-sa",
            {"serviceAccountName": "loader", "model": {**sklearn, "storageUri": f"s3://{BUCKET}/{PREFIX}"}},
        ),
        isvc(
            "iris-bad",
            {"serviceAccountName": "intruder", "model": {**sklearn, "storageUri": f"s3://{BUCKET}/{PREFIX}"}},
        ),
    ]
    return yaml.safe_dump_all(docs)


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


async def test_models_behind_credentials_serve_and_wrong_keys_say_why(
    secured_s3: SecuredS3, tmp_path: Path
) -> None:
    async with platform(tmp_path) as p:
        await p.run("apply", "-f", "-", input=_objects(secured_s3))

        async def ready(name: str) -> bool:
            return _condition(await p.get("isvc", name), "Ready").get("status") == "True"

        async def both_ready() -> bool:
            return await ready("iris-spec") and await ready("iris-sa")

        await wait_until_async(both_ready, 90, interval=0.3, retry_on=())
        async with httpx.AsyncClient(base_url=p.ctx.gateway_url, timeout=30) as client:
            for name in ("iris-spec", "iris-sa"):
                headers = {"Host": f"{name}.default.example.com"}

                async def answers(
                    name: str = name, headers: dict[str, str] = headers
                ) -> httpx.Response | None:
                    got = await client.post(f"/v1/models/{name}:predict", json=BODY, headers=headers)
                    return got if got.status_code == 200 else None

                got = await wait_until_async(answers, 30, interval=0.2, retry_on=())
                assert got is not None and got.json() == {"predictions": [1]}
        ksvc = await p.get("ksvc", "iris-spec-predictor")
        (init,) = ksvc["spec"]["template"]["spec"]["initContainers"]
        assert init["args"] == ["storage-initializer", f"s3://{BUCKET}/{PREFIX}", "/mnt/models"]
        ref = {"secretKeyRef": {"name": "storage-config", "key": "localS3"}}
        assert init["env"] == [{"name": "STORAGE_CONFIG", "valueFrom": ref}]  # as KServe: a reference
        by_account = await p.get("ksvc", "iris-sa-predictor")
        assert secured_s3.secret not in json.dumps(by_account), "a key's value is never copied"

        async def refused() -> dict[str, Any] | None:
            cond = _condition(await p.get("isvc", "iris-bad"), "PredictorReady")
            return cond if cond.get("status") == "False" and cond.get("message") else None

        cond = await wait_until_async(refused, 60, interval=0.3, retry_on=())
        assert cond is not None and cond["reason"] == "RevisionFailed"
        message = cond["message"]
        assert "init container storage-initializer exited with code 1" in message
        assert (
            f"s3://{BUCKET}/{PREFIX}: S3 refused the request" in message
            and "SignatureDoesNotMatch" in message
        )
