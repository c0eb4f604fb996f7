"""End to end: an InferenceService with a sklearn predictor and the built-in kernelshap explainer,
applied with kubectl to the embedded platform; :explain through the gateway reaches the explainer,
which calls the predictor through the platform."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from support.platform import in_thread_platform
from support.waiting import WaitTimeout, wait_until_async

from zeroserve.local.component import PlatformContext
from zeroserve.local.testing import Kubectl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def platform(tmp_path: Path) -> contextlib.AbstractAsyncContextManager[tuple[PlatformContext, Kubectl]]:
    return in_thread_platform(tmp_path)


def _isvc(name: str, predictor: dict[str, Any], explainer: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"predictor": predictor, "explainer": explainer},
    }


async def test_explain_goes_to_the_kernelshap_and_art_explainers(tmp_path: Path) -> None:
    import joblib
    from sklearn.linear_model import LinearRegression

    from zeroserve.servers.testing import iris_data, train_iris_sklearn

    weights = np.array([0.5, -1.0, 2.0, 0.25])
    X = np.random.default_rng(0).normal(size=(40, 4))
    (tmp_path / "lin").mkdir()
    joblib.dump(LinearRegression().fit(X, X @ weights + 1.0), tmp_path / "lin" / "model.joblib")
    train_iris_sklearn(tmp_path / "iris")
    docs = [
        _isvc(
            "lin",
            {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": f"file://{tmp_path / 'lin'}"}},
            {"model": {"modelFormat": {"name": "kernelshap"}}},
        ),
        # KServe's art sample, sized for iris: 3 classes, a few iterations
        _isvc(
            "iris",
            {"sklearn": {"storageUri": f"file://{tmp_path / 'iris'}"}},
            {"art": {"type": "SquareAttack", "config": {"nb_classes": "3", "max_iter": "3"}}},
        ),
    ]
    async with platform(tmp_path) as (ctx, kubectl):
        applied = await asyncio.to_thread(
            kubectl, "apply", "-f", "-", input=yaml.safe_dump_all(docs), check=False
        )
        assert applied.returncode == 0, applied.stderr

        async def ready() -> bool:
            for name in ("lin", "iris"):
                out = (await asyncio.to_thread(kubectl, "get", "isvc", name, "-o", "json")).stdout
                conditions: list[dict[str, Any]] = json.loads(out).get("status", {}).get("conditions") or []
                if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                    return False
            return True

        await wait_until_async(ready, 90, interval=0.3, retry_on=())
        row = [1.0, 2.0, 3.0, 4.0]
        X_iris, y_iris = iris_data()
        image = [X_iris[70].reshape(1, 2, 2, 1).tolist(), int(y_iris[70])]
        last: dict[str, str] = {}
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=60) as client:

            async def explain(name: str, instances: list[Any]) -> httpx.Response | None:
                headers = {"Host": f"{name}.default.example.com"}
                got = await client.post(
                    f"/v1/models/{name}:explain", json={"instances": instances}, headers=headers
                )
                last[name] = f"{got.status_code} {got.text[:300]}"
                return got if got.status_code == 200 else None

            try:
                got = await wait_until_async(lambda: explain("lin", [row]), 60, interval=0.3, retry_on=())
            except WaitTimeout:
                raise AssertionError(f"no 200 from :explain; last answers: {last}") from None
            assert got is not None, last
            # background: one row of zeros, so phi_i = w_i * x_i
            doc = got.json()["explanations"]
            np.testing.assert_allclose(doc["shap_values"][0][0], weights * np.asarray(row), atol=1e-6)
            attacked = await wait_until_async(lambda: explain("iris", image), 60, interval=0.3, retry_on=())
            assert attacked is not None, last
            found = set(attacked.json()["explanations"])
            assert found == {"adversarial_example", "L2 error", "adversarial_prediction", "prediction"}
            headers = {"Host": "lin.default.example.com"}
            predicted = await client.post(
                "/v1/models/lin:predict", json={"instances": [row]}, headers=headers
            )
            expected = float(np.asarray(row) @ weights + 1)
            assert predicted.json()["predictions"][0] == pytest.approx(expected, abs=1e-6)
