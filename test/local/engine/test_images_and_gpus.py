"""Image table, launch plans and GPU allocation (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zeroserve.local.engine.gpus import GpuAllocator, InsufficientGPUs, gpus_requested
from zeroserve.local.engine.images import ImageNotRunnable, ImageTable, plan_launch

TABLE = ImageTable.load()
COMMON = {
    "model_dir": Path("/state/models/iris"),
    "ready_file": Path("/run/r.ready"),
    "port": 9000,
    "grpc_port": 0,
}


@pytest.mark.parametrize(
    "image",
    [
        "kserve/sklearnserver:v0.14.0",
        "docker.io/kserve/sklearnserver@sha256:abc",
        "index.docker.io/kserve/sklearnserver",
    ],
)
def test_kserve_images_map_to_our_server(image: str) -> None:
    plan = plan_launch(
        {"image": image, "args": ["--model_name=iris", "--model_dir=/mnt/models", "--http_port=8080"]},
        TABLE,
        base_env={"A": "1"},
        **COMMON,  # type: ignore[arg-type]
    )
    assert plan.cli_args == [
        "serve",
        "sklearn",
        "--model_name=iris",
        "--model_dir=/state/models/iris",
        "--http_port",
        "0",
        "--ready-file",
        "/run/r.ready",
        "--grpc_port",
        "0",
        "--host",
        "127.0.0.1",
    ]
    assert plan.env == {"A": "1", "PORT": "0"}
    assert plan.ready_file == Path("/run/r.ready")


def test_our_image_rewrites_env_and_keeps_the_subcommand() -> None:
    plan = plan_launch(
        {
            "image": "ghcr.io/zeroserve/zeroserve:0.1.0",
            "args": ["router", "--graph-json", "{}"],
            "env": [{"name": "STORAGE_URI", "value": "/mnt/models"}],
        },
        TABLE,
        base_env={},
        **COMMON,  # type: ignore[arg-type]
    )
    assert plan.cli_args is not None and plan.cli_args[:3] == ["router", "--graph-json", "{}"]
    assert "--grpc_port" not in plan.cli_args
    assert plan.env["STORAGE_URI"] == "/state/models/iris"


def test_other_images_get_port_and_probe() -> None:
    table = ImageTable.load()
    table.add("example.com/app", ["python", "/srv/app.py"])
    plan = plan_launch(
        {"image": "example.com/app:1", "readinessProbe": {"httpGet": {"path": "/healthz"}}},
        table,
        base_env={},
        python="/usr/bin/python3",
        **COMMON,  # type: ignore[arg-type]
    )
    assert plan.argv == ["/usr/bin/python3", "/srv/app.py"]
    assert plan.cli_args is None
    assert plan.env["PORT"] == "9000"
    assert plan.probe_path == "/healthz"


def test_unknown_images_and_commands_are_refused_with_a_reason() -> None:
    with pytest.raises(ImageNotRunnable, match="cannot run locally"):
        plan_launch({"image": "quay.io/acme/server:2"}, TABLE, base_env={}, **COMMON)  # type: ignore[arg-type]
    with pytest.raises(ImageNotRunnable, match="command"):
        plan_launch(
            {"image": "ghcr.io/zeroserve/zeroserve:1", "command": ["/bin/server"]},
            TABLE,
            base_env={},
            **COMMON,  # type: ignore[arg-type]
        )


def test_gpu_allocation_and_release() -> None:
    assert gpus_requested({"resources": {"limits": {"nvidia.com/gpu": "2"}}}) == 2
    assert gpus_requested({"resources": {"requests": {"nvidia.com/gpu": 1}}}) == 1
    assert gpus_requested({}) == 0
    pool = GpuAllocator(["0", "1"])
    a, b = object(), object()
    assert pool.allocate(1, a, "rev a") == ["0"]
    with pytest.raises(InsufficientGPUs, match=r"rev b needs 2 nvidia\.com/gpu but 1 of 2 GPUs"):
        pool.allocate(2, b, "rev b")
    pool.release(a)
    assert pool.allocate(2, b, "rev b") == ["0", "1"]
