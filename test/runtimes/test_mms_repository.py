"""Multi-model serving in the model server: a KServe model config loads and unloads sklearn models, and
a memory budget unloads the least recently used, each with its reason in ``/v2/repository/index``."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from zeroserve.servers.dataplane import DataPlane
from zeroserve.servers.errors import ModelLoadError
from zeroserve.servers.model import Model
from zeroserve.servers.repository import ModelRepository
from zeroserve.servers.runtimes import RuntimeRegistry
from zeroserve.servers.testing import train_iris_sklearn

ROW = [[6.8, 2.8, 4.8, 1.4]]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(train_iris_sklearn(tmp_path_factory.mktemp("iris")))


def _repository(root: Path, budget: int | None) -> ModelRepository:
    registry = RuntimeRegistry.builtin()

    def factory(name: str, folder: Path) -> Model:
        return registry.create("sklearn", name, folder)

    return ModelRepository(models_dir=root, model_factory=factory, memory_budget=budget)


def _entry(name: str, memory: str, source: Path) -> dict[str, object]:
    return {
        "modelName": name,
        "modelSpec": {"storageUri": f"file://{source}", "framework": "sklearn", "memory": memory},
    }


def _copy(uri: str, folder: Path) -> None:
    shutil.copytree(uri.removeprefix("file://"), folder)


def test_model_config_loads_unloads_and_lru_respects_the_budget(tmp_path: Path, source: Path) -> None:
    repo = _repository(tmp_path / "models", budget=300 * 1024**2)
    plane = DataPlane(repo, enable_model_repository=True)

    async def run() -> None:
        done = await repo.sync_model_config(
            [_entry("a", "100Mi", source), _entry("b", "100Mi", source)], _copy
        )
        assert done == {"a": "loaded", "b": "loaded"}
        model = plane.get_model("a")  # a used after b: b is now least recently used
        assert model.ready and model.name == "a"
        entries = [_entry(n, "100Mi", source) for n in ("a", "b")] + [_entry("c", "150Mi", source)]
        done = await repo.sync_model_config(entries, _copy)
        assert done == {"c": "loaded"}
        index = {e["name"]: e for e in plane.repository_index()}
        assert index["a"]["state"] == "READY" and index["c"]["state"] == "READY"
        assert index["b"]["state"] == "UNAVAILABLE"
        assert "least recently used" in index["b"]["reason"] and "315621376" not in index["b"]["reason"]
        done = await repo.sync_model_config([_entry("c", "150Mi", source)], _copy)
        assert done == {"a": "unloaded"}
        index = {e["name"]: e for e in plane.repository_index()}
        assert index["a"]["reason"] == "unloaded: no longer in the model config"
        big = await repo.sync_model_config(
            [_entry("c", "150Mi", source), _entry("huge", "1Gi", source)], _copy
        )
        assert "more than the memory budget" in big["huge"]
        with pytest.raises(ModelLoadError, match="memory budget"):
            await repo.load("huge")

    asyncio.run(run())


def test_a_running_server_follows_its_model_config_file(tmp_path: Path, source: Path) -> None:
    import json

    import httpx
    from support.waiting import wait_until_async

    from zeroserve.servers.model_server import ModelServer
    from zeroserve.servers.settings import ServerSettings

    registry = RuntimeRegistry.builtin()
    config = tmp_path / "configs" / "models.json"
    config.parent.mkdir()
    settings = ServerSettings(
        http_port=0,
        grpc_port=-1,
        host="127.0.0.1",
        models_dir=tmp_path / "models",
        model_config_file=config,
        memory_budget=200 * 1024**2,
        enable_model_repository=True,
        configure_logging=False,
    )
    server = ModelServer(
        settings, model_factory=lambda name, folder: registry.create("sklearn", name, folder)
    )

    async def run() -> None:
        async with server.running([]) as handle, httpx.AsyncClient(base_url=handle.url) as client:

            def answer(name: str) -> Callable[[], Awaitable[list[int]]]:
                async def ask() -> list[int]:  # [] (falsy: poll again) until the model answers
                    got = await client.post(f"/v1/models/{name}:predict", json={"instances": ROW})
                    return list(got.json()["predictions"]) if got.status_code == 200 else []

                return ask

            config.write_text(json.dumps([_entry("a", "100Mi", source)]))
            first: list[int] = await wait_until_async(answer("a"), 30, interval=0.1, retry_on=())
            assert first == [1]
            config.write_text(json.dumps([_entry("a", "100Mi", source), _entry("b", "150Mi", source)]))
            second: list[int] = await wait_until_async(answer("b"), 30, interval=0.1, retry_on=())
            assert second == [1]
            assert (await client.post("/v1/models/a:predict", json={"instances": ROW})).status_code == 404
            index = (await client.post("/v2/repository/index", json={})).json()
            reasons = {e["name"]: e.get("reason") for e in index}
            assert "least recently used" in (reasons["a"] or "")

    asyncio.run(run())
