"""tritonclient's ``get_model_config`` and ``get_inference_statistics`` over HTTP and gRPC."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from servers_support import BackgroundServer, serve_in_background
from test_batching_protocols import PlainModel, RecordingModel
from tritonclient.utils import InferenceServerException

from zeroserve.servers import ServerHandle


class DeclaredRecording(RecordingModel):
    def get_input_types(self) -> list[dict[str, Any]]:
        return [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}]

    def get_output_types(self) -> list[dict[str, Any]]:
        return [{"name": "output-0", "datatype": "FP32", "shape": [-1, 2]}]


@pytest.fixture(scope="module")
def handle() -> Iterator[ServerHandle]:
    server: BackgroundServer = serve_in_background(
        [DeclaredRecording("rec"), PlainModel("plain")],
        batcher_enabled=True,
        batcher_max_batch_size=16,
        batcher_max_latency_ms=1,
    )
    assert server.handle is not None
    yield server.handle
    server.stop()


def _error_of(call: Callable[[], Any]) -> str:
    """The message of the InferenceServerException ``call`` raises (no traceback kept alive: a
    tritonclient HTTP client must not be collected later on another thread)."""
    try:
        call()
    except InferenceServerException as exc:
        return str(exc)
    raise AssertionError("expected an error")


def _infer_twice(client: Any, module: Any) -> None:
    for _ in range(2):
        inp = module.InferInput("x", [3, 2], "FP32")
        inp.set_data_from_numpy(np.ones((3, 2), dtype=np.float32))
        client.infer("rec", [inp])


def test_model_config_over_http_and_grpc(handle: ServerHandle) -> None:
    http = thttp.InferenceServerClient(f"127.0.0.1:{handle.http_port}")
    config = http.get_model_config("rec")
    assert config["name"] == "rec"
    assert config["max_batch_size"] == 16
    assert config["input"][0] | {"dims": None} == {
        "name": "x",
        "data_type": "TYPE_FP32",
        "format": "FORMAT_NONE",
        "dims": None,
        "is_shape_tensor": False,
        "allow_ragged_batch": False,
        "optional": False,
    }
    assert config["input"][0]["dims"] == [2]  # the batch dimension is max_batch_size's, as in Triton
    assert config["output"][0]["dims"] == [2]
    assert config["dynamic_batching"]["max_queue_delay_microseconds"] == 1000
    plain = http.get_model_config("plain")
    assert plain["max_batch_size"] == 0 and "dynamic_batching" not in plain
    assert "does not exist" in _error_of(lambda: http.get_model_config("nope"))
    http.close()
    gc.collect()

    grpc = tgrpc.InferenceServerClient(handle.grpc_target)
    reply = grpc.get_model_config("rec")
    assert reply.config.name == "rec" and reply.config.max_batch_size == 16
    assert list(reply.config.input[0].dims) == [2]
    assert reply.config.input[0].data_type == 11  # TYPE_FP32
    assert reply.config.dynamic_batching.max_queue_delay_microseconds == 1000
    as_json = grpc.get_model_config("rec", as_json=True)
    assert as_json["config"]["output"][0]["data_type"] == "TYPE_FP32"
    assert "does not exist" in _error_of(lambda: grpc.get_model_config("nope"))
    grpc.close()


def test_inference_statistics_over_http_and_grpc(handle: ServerHandle) -> None:
    http = thttp.InferenceServerClient(f"127.0.0.1:{handle.http_port}")
    before = http.get_inference_statistics("rec")["model_stats"][0]
    _infer_twice(http, thttp)
    bad = thttp.InferInput("x", [1, 3], "FP32")  # declared [-1, 2]: a 400, counted as a failure
    bad.set_data_from_numpy(np.ones((1, 3), dtype=np.float32))
    assert "expected shape" in _error_of(lambda: http.infer("rec", [bad]))
    stats = http.get_inference_statistics("rec")["model_stats"][0]
    assert stats["name"] == "rec"
    assert stats["inference_count"] - before["inference_count"] == 6
    assert stats["execution_count"] - before["execution_count"] == 2
    success, fail = stats["inference_stats"]["success"], stats["inference_stats"]["fail"]
    assert success["count"] - before["inference_stats"]["success"]["count"] == 2
    assert fail["count"] - before["inference_stats"]["fail"]["count"] == 1
    assert stats["inference_stats"]["queue"]["count"] >= 2
    assert success["ns"] > 0 and stats["last_inference"] > 0
    assert 3 in {b["batch_size"] for b in stats["batch_stats"]}
    every = http.get_inference_statistics()["model_stats"]
    assert {s["name"] for s in every} == {"rec", "plain"}
    http.close()
    gc.collect()

    grpc = tgrpc.InferenceServerClient(handle.grpc_target)
    _infer_twice(grpc, tgrpc)
    reply = grpc.get_inference_statistics("rec")
    entry = reply.model_stats[0]
    assert entry.name == "rec"
    assert entry.inference_count - stats["inference_count"] == 6
    assert entry.inference_stats.success.count - success["count"] == 2
    assert len(grpc.get_inference_statistics().model_stats) == 2
    assert "does not exist" in _error_of(lambda: grpc.get_inference_statistics("nope"))
    grpc.close()
