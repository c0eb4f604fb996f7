"""Multi-model serving in the model server: a KServe model config loads and unloads sklearn models, and
a memory budget unloads the least recently used, each with its reason in ``/v2/repository/index``."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from zeroserve.servers.dataplane import DataPlane
from zeroserve.servers.errors import ModelLoadError, ModelNotFound, ModelNotReady
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
        answer = await plane.infer(
            "a", {"instances": ROW}, {}
        )  # a used after b: b is now least recently used
        assert answer == {"predictions": [1]}
        assert await plane.model_ready("b")  # a lookup (readiness, metadata, status reads) is not a use
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


def test_an_lru_unloaded_model_comes_back_only_where_it_fits(tmp_path: Path, source: Path) -> None:
    """No churn: a config change loads an LRU-unloaded model again only without unloading another."""
    repo = _repository(tmp_path / "models", budget=300 * 1024**2)
    plane = DataPlane(repo, enable_model_repository=True)
    a, b, c, d = (
        _entry("a", "100Mi", source),
        _entry("b", "100Mi", source),
        _entry("c", "150Mi", source),
        _entry("d", "50Mi", source),
    )

    async def run() -> None:
        await repo.sync_model_config([a, b], _copy)
        await plane.infer("a", {"instances": ROW}, {})  # b is now the least recently used
        assert await repo.sync_model_config([a, b, c], _copy) == {"c": "loaded"}
        # d fits beside a and c; b does not, and nothing is unloaded for it
        assert await repo.sync_model_config([a, b, c, d], _copy) == {"d": "loaded"}
        assert sorted(m.name for m in repo.get_models()) == ["a", "c", "d"]
        with pytest.raises(ModelNotFound) as info:
            plane.get_model("b")
        assert info.value.status_code == 404 and info.value.reason_code == "UnloadedLeastRecentlyUsed"
        assert str(info.value).startswith("Model with name b is not loaded: unloaded as least recently used")
        # c's TrainedModel is deleted: its room goes to b first
        assert await repo.sync_model_config([a, b, d], _copy) == {"c": "unloaded", "b": "loaded"}
        assert plane.get_model("b").ready
        assert repo.unavailable("c") == ("RemovedFromModelConfig", "unloaded: no longer in the model config")

    asyncio.run(run())


def test_a_loading_or_failed_model_says_so_in_requests_and_the_index(tmp_path: Path, source: Path) -> None:
    repo = _repository(tmp_path / "models", budget=None)
    plane = DataPlane(repo, enable_model_repository=True)
    fetching, gate = threading.Event(), threading.Event()

    def slow_copy(uri: str, folder: Path) -> None:  # the storage download, held until the test lets go
        fetching.set()
        gate.wait(30)
        _copy(uri, folder)

    async def run() -> None:
        syncing = asyncio.create_task(repo.sync_model_config([_entry("slow", "1Mi", source)], slow_copy))
        assert await asyncio.to_thread(fetching.wait, 30)
        with pytest.raises(ModelNotReady) as loading:
            plane.get_model("slow")
        assert loading.value.status_code == 503 and loading.value.reason_code == "Loading"
        assert {"name": "slow", "state": "LOADING", "reason": f"loading from file://{source}"} in (
            plane.repository_index()
        )
        gate.set()
        assert await syncing == {"slow": "loaded"}
        missing = _entry("missing", "1Mi", source / "nothing")
        done = await repo.sync_model_config([_entry("slow", "1Mi", source), missing], _copy)
        assert list(done) == ["missing"] and "nothing" in done["missing"]
        entry = next(e for e in plane.repository_index() if e["name"] == "missing")
        assert entry["state"] == "UNAVAILABLE" and entry["reason"].startswith("load failed: ")
        with pytest.raises(ModelNotFound) as failed:
            plane.get_model("missing")
        assert failed.value.reason_code == "LoadFailed"
        await repo.sync_model_config([_entry("slow", "1Mi", source)], _copy)  # dropped: forgotten
        assert repo.unavailable("missing") is None
        assert all(e["name"] != "missing" for e in plane.repository_index())

    asyncio.run(run())
