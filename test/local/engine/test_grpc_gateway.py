"""gRPC through the gateway, end to end: ``zeroserve up`` (controller and engine), kubectl, real gRPC
clients (tritonclient, KServe's ``InferenceGRPCClient``, grpcio) on the gateway's one port, by Host.

Covers scale from zero held by the activator, a 1,000-call canary split, a bidirectional stream with
deadline and cancellation passed to the backend, and the statuses the gateway answers itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import yaml
from support.waiting import wait_until

from zeroserve.local.testing import PlatformProcess, platform_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
STREAM_SERVER = Path(__file__).with_name("grpc_stream_server.py")
KSERVE_PYTHON = ROOT / ".venv-kserve" / "bin" / "python"
COMPONENTS = [
    "zeroserve.local.controller:ControllerComponent",
    "zeroserve.local.engine.component:EngineComponent",
]
FAST = {
    "ZEROSERVE_ENGINE_STABLE_WINDOW": "1",
    "ZEROSERVE_ENGINE_SCALE_TO_ZERO_GRACE_PERIOD": "0.5",
    "ZEROSERVE_ENGINE_TICK_INTERVAL": "0.1",
    "ZEROSERVE_ENGINE_METRIC_BUCKET": "0.1",
}
ROWS = np.array([[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]], dtype=np.float32)
HOST = "iris.default.example.com"

KSERVE_SCRIPT = """
import asyncio, json, sys
import numpy as np
from kserve import InferenceGRPCClient, InferInput, InferRequest

async def main(address, host):
    client = InferenceGRPCClient(address, channel_args=[("grpc.default_authority", host)])
    data = InferInput("input-0", [2, 4], "FP32")
    data.set_data_from_numpy(np.array([[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]], dtype=np.float32))
    response = await client.infer(InferRequest(model_name="iris", infer_inputs=[data]))
    print(json.dumps([o.as_numpy().tolist() for o in response.outputs]))
    await client.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from zeroserve.servers.testing import train_iris_sklearn

    root = tmp_path_factory.mktemp("models")
    return train_iris_sklearn(root / "v1"), train_iris_sklearn(root / "v2")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    saved = {key: os.environ.get(key) for key in FAST}
    os.environ.update(FAST)
    try:
        with platform_process(tmp_path_factory.mktemp("platform"), components=COMPONENTS) as running:
            yield running
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _address(platform: PlatformProcess) -> str:
    url = str(platform.info["extra"]["gateway_url"])
    return url.removeprefix("http://").rstrip("/")


def _apply(platform: PlatformProcess, obj: dict[str, Any]) -> None:
    platform.kubectl("apply", "-f", "-", input=yaml.safe_dump(obj))


def _isvc(
    uri: str, name: str = "iris", annotations: dict[str, str] | None = None, **predictor: Any
) -> dict[str, Any]:
    spec = {"sklearn": {"storageUri": uri, "protocolVersion": "v2"}, "minReplicas": 0, **predictor}
    metadata: dict[str, Any] = {"name": name, "namespace": "default", "annotations": annotations or {}}
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {"predictor": spec},
    }


def _ready(platform: PlatformProcess, kind: str, name: str) -> bool:
    found = platform.kubectl("get", kind, name, "-o", "json", check=False)
    if found.returncode != 0:
        return False
    conditions = json.loads(found.stdout).get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _replicas(platform: PlatformProcess, revision: str) -> int | None:
    found = platform.kubectl("get", "revision", revision, "-o", "json", check=False)
    if found.returncode != 0:
        return None
    value = json.loads(found.stdout).get("status", {}).get("actualReplicas")
    return None if value is None else int(value)


def _channel(platform: PlatformProcess, host: str) -> grpc.Channel:
    return grpc.insecure_channel(_address(platform), options=[("grpc.default_authority", host)])


def _infer_stub(channel: grpc.Channel, model: str = "iris") -> Any:
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    request = service_pb2.ModelInferRequest(model_name=model)
    tensor = request.inputs.add()
    tensor.name, tensor.datatype = "input-0", "FP32"
    tensor.shape.extend([1, 4])
    request.raw_input_contents.append(ROWS[:1].tobytes())
    return stub, request


def test_tritonclient_from_zero_then_warm_and_kserve_client(
    platform: PlatformProcess, models: tuple[Path, Path]
) -> None:
    import tritonclient.grpc as triton

    _apply(platform, _isvc(f"file://{models[0]}"))
    wait_until(
        lambda: _ready(platform, "isvc", "iris"), 90, what="isvc iris Ready", interval=0.2, retry_on=()
    )
    wait_until(
        lambda: _replicas(platform, "iris-predictor-00001") == 0,
        30,
        what="iris to scale to zero",
        interval=0.2,
        retry_on=(),
    )
    client = triton.InferenceServerClient(_address(platform), channel_args=[("grpc.default_authority", HOST)])
    data = triton.InferInput("input-0", [2, 4], "FP32")
    data.set_data_from_numpy(ROWS)
    began = time.monotonic()
    cold = client.infer("iris", [data])
    cold_s = time.monotonic() - began
    assert cold.as_numpy("output-0").tolist() == [1, 1]
    began = time.monotonic()
    warm = client.infer("iris", [data])
    warm_s = time.monotonic() - began
    assert warm.as_numpy("output-0").tolist() == [1, 1]
    assert client.is_model_ready("iris")
    wait_until(
        lambda: _replicas(platform, "iris-predictor-00001") == 1,
        10,
        what="the scale-up reported",
        interval=0.1,
    )
    print(f"gRPC through the gateway: from zero {cold_s * 1000:.0f} ms, warm {warm_s * 1000:.1f} ms")
    client.close()

    if not KSERVE_PYTHON.exists():
        pytest.skip("KServe's client needs .venv-kserve (hack/clients/kserve.sh)")
    done = subprocess.run(
        [str(KSERVE_PYTHON), "-c", KSERVE_SCRIPT, _address(platform), HOST],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [[1, 1]]


def test_canary_split_over_grpc(platform: PlatformProcess, models: tuple[Path, Path]) -> None:
    if not _ready(platform, "isvc", "iris"):
        _apply(platform, _isvc(f"file://{models[0]}"))
        wait_until(lambda: _ready(platform, "isvc", "iris"), 90, what="isvc iris Ready", interval=0.2)
    _apply(platform, _isvc(f"file://{models[1]}", canaryTrafficPercent=30))
    channel = _channel(platform, HOST)
    stub, request = _infer_stub(channel)

    def revision() -> str:
        _, call = stub.ModelInfer.with_call(request, timeout=60)
        return dict(call.initial_metadata())["zeroserve-revision"]

    wait_until(
        lambda: revision() == "iris-predictor-00002", 90, what="the canary to take traffic", interval=0.1
    )
    counts = Counter(revision() for _ in range(1000))
    channel.close()
    assert set(counts) == {"iris-predictor-00001", "iris-predictor-00002"}
    # 30% of 1,000: standard deviation 14.5; 5 sigma either way
    assert abs(counts["iris-predictor-00002"] - 300) < 73, counts


@pytest.fixture(scope="module")
def echo(platform: PlatformProcess) -> str:
    container = {
        "image": "ghcr.io/zeroserve/zeroserve:latest",
        "command": ["python", str(STREAM_SERVER)],
        "ports": [{"name": "h2c", "containerPort": 8080}],
    }
    service = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "echo", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }
    _apply(platform, service)
    wait_until(
        lambda: _ready(platform, "ksvc", "echo"), 60, what="ksvc echo Ready", interval=0.2, retry_on=()
    )
    return "echo.default.example.com"


def test_streaming_deadline_and_cancellation_pass_through(
    platform: PlatformProcess, echo: str, tmp_path: Path
) -> None:
    channel = _channel(platform, echo)
    chat = channel.stream_stream("/test.Echo/Chat")
    call = chat(iter([b"one", b"two", b"three"]), timeout=30)
    assert list(call) == [b"echo:one", b"echo:two", b"echo:three"]
    assert dict(call.initial_metadata())["zeroserve-revision"] == "echo-00001"
    assert call.code() == grpc.StatusCode.OK
    # a message larger than every flow-control window on the way, both ways
    big = bytes(range(256)) * (3 * 2**20 // 256)
    assert list(chat(iter([big, b"after"]), timeout=30)) == [b"echo:" + big, b"echo:after"]

    # the deadline reaches the backend (gRPC rounds it to its timer's granularity)
    seen = float(channel.unary_unary("/test.Echo/Deadline")(b"", timeout=5))
    assert 3.0 < seen < 5.1, seen

    hold = channel.unary_unary("/test.Echo/Hold")
    marker = tmp_path / "hold"
    future = hold.future(str(marker).encode(), timeout=30)
    wait_until(lambda: marker.exists(), 10, what="the call to reach the backend", interval=0.02, retry_on=())
    future.cancel()
    wait_until(
        lambda: marker.read_text() == "cancelled", 10, what="the backend to see the cancel", interval=0.02
    )
    channel.close()


def test_unknown_host_and_unservable_backend_get_clear_statuses(platform: PlatformProcess) -> None:
    channel = _channel(platform, "nothing.nowhere.example.com")
    stub, request = _infer_stub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no route for host 'nothing.nowhere.example.com'" in caught.value.details()
    channel.close()

    broken = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "broken", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"image": "example.invalid/nothing:1"}]}}},
    }
    _apply(platform, broken)
    channel = _channel(platform, "broken.default.example.com")
    stub, request = _infer_stub(channel)

    def status() -> tuple[grpc.StatusCode, str] | None:
        try:
            stub.ModelInfer(request, timeout=10)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None  # the route is not there yet
            return err.code(), err.details()
        return None

    code, details = wait_until(status, 30, what="the broken service's route", interval=0.1, retry_on=())
    channel.close()
    assert code == grpc.StatusCode.UNAVAILABLE, (code, details)
    assert "broken" in details, details
    print(details)


def test_enable_auth_over_grpc(platform: PlatformProcess, models: tuple[Path, Path]) -> None:
    auth = {"serving.kserve.io/enable-auth": "true"}
    # also a protocolVersion grpc-v2 service (its container port is h2c)
    private = _isvc(f"file://{models[0]}", name="private", annotations=auth)
    private["spec"]["predictor"]["sklearn"]["protocolVersion"] = "grpc-v2"
    _apply(platform, private)
    platform.kubectl("create", "namespace", "elsewhere")
    token = platform.kubectl("create", "token", "default").stdout.strip()
    other = platform.kubectl("create", "token", "default", "-n", "elsewhere").stdout.strip()
    wait_until(lambda: _ready(platform, "isvc", "private"), 90, what="isvc private Ready", interval=0.2)
    channel = _channel(platform, "private.default.example.com")
    stub, request = _infer_stub(channel, "private")

    def code(metadata: list[tuple[str, str]]) -> grpc.StatusCode:
        try:
            stub.ModelInfer(request, timeout=60, metadata=metadata)
        except grpc.RpcError as err:
            return err.code()
        return grpc.StatusCode.OK

    assert code([]) == grpc.StatusCode.UNAUTHENTICATED
    assert code([("authorization", f"Bearer {other}")]) == grpc.StatusCode.PERMISSION_DENIED
    assert code([("authorization", f"Bearer {token}")]) == grpc.StatusCode.OK
    channel.close()


def test_gateway_serves_http1_beside_grpc(platform: PlatformProcess) -> None:
    import httpx

    response = httpx.get(f"http://{_address(platform)}/healthz", timeout=10)
    assert response.status_code == 200
