"""A seeded slice of the fault-injection generator (``hack/chaos/fuzz.py``) against a real sklearn
server: no 5xx, no gRPC INTERNAL / UNKNOWN, no Python exception names in any answer."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import pytest
from servers_support import BackgroundServer, serve_in_background

from zeroserve.servers.fuzzing import GRPC_INFER, PROTOCOLS, generate, send_grpc, send_http
from zeroserve.servers.runtimes.sklearn import SKLearnModel
from zeroserve.servers.testing import train_iris_sklearn


@pytest.fixture(scope="module")
def iris_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    folder = train_iris_sklearn(tmp_path_factory.mktemp("iris"))
    server = serve_in_background([SKLearnModel("iris", folder)])
    yield server
    server.stop()


@pytest.mark.parametrize("seed", [11, 12])
def test_malformed_requests_never_answer_5xx(iris_server: BackgroundServer, seed: int) -> None:
    handle = iris_server.handle
    assert handle is not None
    failures = []
    seen = set()
    with (
        httpx.Client(base_url=handle.url, timeout=30, trust_env=False) as client,
        grpc.insecure_channel(handle.grpc_target) as channel,
    ):
        call = channel.unary_unary(GRPC_INFER)
        for case in generate(seed, 250):
            seen.add(case.protocol)
            why = send_grpc(call, case) if case.protocol == "grpc" else send_http(client, case)
            if why:
                failures.append(f"{case.protocol} {case.mutation}: {why}")
        good = client.post("/v1/models/iris:predict", json={"instances": [[6.8, 2.8, 4.8, 1.4]]})
    assert seen == set(PROTOCOLS)
    assert failures == []
    assert good.status_code == 200 and good.json() == {"predictions": [1]}


@pytest.mark.parametrize(
    ("path", "body", "status", "names"),
    [
        (
            "/api/v1.0/predictions",
            b'{"data":{"tensor":{"shape":[18446744073709551616,4],"values":[1,2,3,4]}}}',
            400,
            "data.tensor.shape",
        ),
        (
            "/v2/models/iris/infer",
            b'{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],'
            b'"outputs":[{"name":"output-0","parameters":"x"}]}',
            400,
            "outputs[0] 'output-0': 'parameters' must be an object",
        ),
        (
            "/v2/models/iris/infer",
            b'{"inputs":[{"name":"input-0","shape":[true,4],"datatype":"FP32","data":[1,2,3,4]}]}',
            400,
            "inputs[0] 'input-0': 'shape'",
        ),
        ("/v1/models/iris:predict", b'{"instances":[[{},{},1,2]]}', 400, "instances[0][0]"),
        (
            "/v1/models/iris:predict",
            b'{"instances":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            400,
            "max_json_depth",
        ),
        (
            "/v2/models/iris/infer",
            b'{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"INT8","data":[1,2,3,400]}]}',
            400,
            "outside [-128, 127]",
        ),
    ],
    ids=[
        "seldon-shape-2**64",
        "v2-output-parameters",
        "v2-shape-bool",
        "v1-objects",
        "v1-100k-deep",
        "int8-range",
    ],
)
def test_known_malformed_requests_name_the_field(
    iris_server: BackgroundServer, path: str, body: bytes, status: int, names: str
) -> None:
    assert iris_server.handle is not None
    r = httpx.post(iris_server.handle.url + path, content=body, trust_env=False)
    assert r.status_code == status, r.text
    doc = r.json()
    # Seldon's paths answer in Seldon's error shape
    assert names in (doc["status"]["info"] if path.startswith("/api/") else doc["error"])


def test_random_bytes_to_model_infer_are_invalid_argument(iris_server: BackgroundServer) -> None:
    assert iris_server.handle is not None
    with grpc.insecure_channel(iris_server.handle.grpc_target) as channel:
        call = channel.unary_unary(GRPC_INFER)
        with pytest.raises(grpc.RpcError) as err:
            call(b"\xff\xfe\x01garbage", timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid inference.ModelInferRequest" in (err.value.details() or "")
