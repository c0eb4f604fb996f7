"""Repository extension with a model factory, and how ServerSettings reads the environment."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sample_models import SumModel
from servers_support import BackgroundServer

from zeroserve.servers import Model, ServerSettings


def _factory(name: str, folder: Path) -> Model:
    if (folder / "broken").exists():
        raise RuntimeError(f"cannot read {folder / 'broken'}")
    return SumModel(name)


def test_load_builds_new_models_from_models_dir(tmp_path: Path) -> None:
    (tmp_path / "extra").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken").write_text("x")
    settings = ServerSettings(
        http_port=0, grpc_port=-1, models_dir=tmp_path, configure_logging=False, enable_model_repository=True
    )
    server = BackgroundServer([SumModel("base")], settings, model_factory=_factory)
    handle = server.start()
    try:
        with httpx.Client(base_url=handle.url, trust_env=False) as http:
            assert http.post("/v1/models/extra:predict", json={"instances": [[1]]}).status_code == 404
            assert http.post("/v2/repository/models/extra/load").json() == {"name": "extra", "load": True}
            assert http.post("/v1/models/extra:predict", json={"instances": [[1, 1]]}).json() == {
                "predictions": [2.0]
            }
            r = http.post("/v2/repository/models/missing/load")
            assert r.status_code == 404
            assert r.json() == {"error": "Model with name missing does not exist."}
            r = http.post("/v2/repository/models/bad/load")
            assert r.status_code == 503
            assert "cannot read" in r.json()["error"] and "bad" in r.json()["error"]
            assert http.get("/v2/health/ready").json() == {"ready": True}
            metrics = http.get("/metrics").text
            assert 'zeroserve_model_load_seconds_count{model="extra"} 1.0' in metrics
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("env", "http_port", "grpc_port"),
    [
        ({}, 8080, 8081),
        ({"PORT": "9000"}, 9000, 8081),
        ({"PORT": "9000", "ZEROSERVE_HTTP_PORT": "9100"}, 9100, 8081),
        ({"ZEROSERVE_GRPC_PORT": "-1"}, 8080, -1),
    ],
)
def test_ports_from_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], http_port: int, grpc_port: int
) -> None:
    for name in ("PORT", "ZEROSERVE_HTTP_PORT", "ZEROSERVE_GRPC_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = ServerSettings()
    assert (settings.http_port, settings.grpc_port) == (http_port, grpc_port)


def test_unknown_setting_is_rejected() -> None:
    with pytest.raises(ValueError, match="not_a_setting"):
        ServerSettings(not_a_setting=1)  # type: ignore[call-arg]


def test_limit_and_repository_flags_reach_the_settings() -> None:
    from zeroserve.servers.cli import parse_serve_args

    command = parse_serve_args(
        [
            "sklearn",
            "--enable_model_repository",
            "--max_json_depth=10",
            "--request_read_timeout=5",
            "--host=127.0.0.1",
        ]
    )
    s = command.settings
    assert (s.enable_model_repository, s.max_json_depth, s.request_read_timeout, s.host) == (
        True,
        10,
        5.0,
        "127.0.0.1",
    )
    assert not parse_serve_args(["sklearn"]).settings.enable_model_repository
