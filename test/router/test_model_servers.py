"""KServe's sample graphs against real iris model servers (sklearn and XGBoost) on port 0.

Each graph's answer is held against calling the model servers directly, so the router adds routing
and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from zeroserve.servers.testing import serve_in_subprocess, train_iris_sklearn, train_iris_xgboost

from .conftest import RouterFactory

pytestmark = pytest.mark.slow

IRIS = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6], [5.1, 3.5, 1.4, 0.2]]}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Predict URLs of an sklearn and an XGBoost iris server, each in its own process."""
    root = tmp_path_factory.mktemp("iris")
    sklearn_dir = train_iris_sklearn(root / "sklearn")
    xgboost_dir = train_iris_xgboost(root / "xgboost")
    sklearn_args = ["sklearn", "--model-name", "sklearn-iris", "--model-dir", str(Path(sklearn_dir))]
    xgboost_args = ["xgboost", "--model-name", "xgboost-iris", "--model-dir", str(Path(xgboost_dir))]
    with serve_in_subprocess(sklearn_args) as sk, serve_in_subprocess(xgboost_args) as xg:
        yield {
            "sklearn": f"{sk.http_url}/v1/models/sklearn-iris:predict",
            "xgboost": f"{xg.http_url}/v1/models/xgboost-iris:predict",
        }


@pytest.fixture(scope="module")
def direct(models: dict[str, str]) -> dict[str, Any]:
    """What each model answers to the iris input when called directly."""
    with httpx.Client(trust_env=False) as client:
        return {name: client.post(url, json=IRIS).json() for name, url in models.items()}


def graph(root: dict[str, Any]) -> dict[str, Any]:
    return {"nodes": {"root": root}}


async def test_sequence_sklearn_then_xgboost_with_request(
    router: RouterFactory, models: dict[str, str], direct: dict[str, Any]
) -> None:
    steps = [
        {"name": "sklearn", "serviceUrl": models["sklearn"]},
        {"name": "xgboost", "serviceUrl": models["xgboost"], "data": "$request"},
    ]
    async with router(graph({"routerType": "Sequence", "steps": steps})) as (client, _):
        response = await client.post("/", json=IRIS)
    assert response.status_code == 200
    assert response.json() == direct["xgboost"]


async def test_sequence_chains_predictions_into_instances(
    router: RouterFactory, models: dict[str, str], svc: str, direct: dict[str, Any]
) -> None:
    steps = [
        {"serviceUrl": models["sklearn"]},
        {"serviceUrl": f"{svc}/echo/next", "data": "$response", "mapPredictionsToInstances": True},
    ]
    async with router(graph({"routerType": "Sequence", "steps": steps})) as (client, _):
        body = (await client.post("/", json=IRIS)).json()
    assert body["request"] == {"instances": direct["sklearn"]["predictions"]}


async def test_switch_on_a_condition(
    router: RouterFactory, models: dict[str, str], direct: dict[str, Any]
) -> None:
    steps = [
        {"serviceUrl": models["sklearn"], "condition": "[@this].#(instances.0.0>6.5)"},
        {"serviceUrl": models["xgboost"], "condition": "[@this].#(instances.0.0<=6.5)"},
    ]
    async with router(graph({"routerType": "Switch", "steps": steps})) as (client, _):
        large = await client.post("/", json=IRIS)
        small = await client.post("/", json={"instances": [[1.0, 1.0, 1.0, 1.0]]})
        none = await client.post("/", json={"inputs": []})
    assert large.json() == direct["sklearn"]
    assert small.status_code == 200 and "predictions" in small.json()
    assert none.status_code == 404


async def test_ensemble_of_both_models(
    router: RouterFactory, models: dict[str, str], direct: dict[str, Any]
) -> None:
    steps = [
        {"name": "sklearn", "serviceUrl": models["sklearn"]},
        {"name": "xgboost", "serviceUrl": models["xgboost"]},
    ]
    async with router(graph({"routerType": "Ensemble", "steps": steps})) as (client, _):
        response = await client.post("/", json=IRIS)
    assert response.status_code == 200
    assert response.json() == direct


async def test_splitter_between_both_models(
    router: RouterFactory, models: dict[str, str], direct: dict[str, Any]
) -> None:
    steps = [{"serviceUrl": models["sklearn"], "weight": 50}, {"serviceUrl": models["xgboost"], "weight": 50}]
    answers = []
    async with router(graph({"routerType": "Splitter", "steps": steps}), seed=3) as (client, _):
        for _ in range(40):
            answers.append(orjson.dumps((await client.post("/", json=IRIS)).json()))
    seen = {answer: answers.count(answer) for answer in set(answers)}
    expected = {orjson.dumps(direct["sklearn"]), orjson.dumps(direct["xgboost"])}
    assert set(seen) <= expected
    if len(expected) == 2:  # the two models may agree on these rows
        assert min(seen.values()) >= 8, seen


async def test_a_model_error_under_a_hard_dependency_is_returned(
    router: RouterFactory, models: dict[str, str]
) -> None:
    steps = [{"serviceUrl": models["sklearn"], "dependency": "Hard"}, {"serviceUrl": models["xgboost"]}]
    async with router(graph({"routerType": "Sequence", "steps": steps})) as (client, _):
        response = await client.post("/", json={"instances": [["not", "numbers"]]})
    assert 400 <= response.status_code < 600
    assert response.status_code != 200
