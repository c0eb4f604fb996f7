"""A model written for ``kserve.Model`` runs after changing only its import."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Dict, Union  # noqa: UP035 - written as KServe's docs write it

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from servers_support import BackgroundServer, serve_in_background

# In KServe:  from kserve import Model, ModelServer, InferRequest, InferResponse, InferInput, InferOutput
from zeroserve.servers import InferInput, InferOutput, InferRequest, InferResponse, Model


class KServeStyleModel(Model):
    """A custom model in the shape of KServe's docs (V1 dicts and V2 InferRequest)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name
        self.model = None
        self.ready = False
        self.load()

    def load(self):
        self.model = lambda x: x * 2 + 1
        self.ready = True
        return self.ready

    async def preprocess(self, payload: Union[Dict, InferRequest], headers: Dict[str, str] = None):  # noqa: UP006, UP007, RUF013
        if isinstance(payload, InferRequest):
            return payload
        return {"instances": [[v + 0 for v in row] for row in payload["instances"]]}

    def predict(self, payload: Union[Dict, InferRequest], headers: Dict[str, str] = None):  # noqa: UP006, UP007, RUF013
        if isinstance(payload, dict):
            result = self.model(np.array(payload["instances"], dtype=np.float32))
            return {"predictions": result.tolist()}
        data = payload.inputs[0].data  # KServe's list view of an input
        arr = np.asarray(data, dtype=np.float32).reshape(payload.inputs[0].shape)
        result = self.model(arr)
        out = InferOutput(name="output-0", shape=list(result.shape), datatype="FP32")
        out.set_data_from_numpy(result, binary_data=False)
        return InferResponse(model_name=self.name, infer_outputs=[out], response_id=str(uuid.uuid4()))

    def postprocess(self, result: Union[Dict, InferResponse], headers: Dict[str, str] = None):  # noqa: UP006, UP007, RUF013
        if isinstance(result, dict):
            result["postprocessed"] = True
        return result


@pytest.fixture(scope="module")
def kserve_server() -> Iterator[BackgroundServer]:
    server = serve_in_background([KServeStyleModel("custom")])
    yield server
    server.stop()


def test_v1_dict_payload(kserve_server: BackgroundServer) -> None:
    assert kserve_server.handle is not None
    r = httpx.post(
        f"{kserve_server.handle.url}/v1/models/custom:predict",
        json={"instances": [[1, 2], [3, 4]]},
        trust_env=False,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": [[3.0, 5.0], [7.0, 9.0]], "postprocessed": True}


def test_v2_infer_request_payload_with_tritonclient(kserve_server: BackgroundServer) -> None:
    assert kserve_server.handle is not None
    client = triton.InferenceServerClient(f"127.0.0.1:{kserve_server.handle.http_port}")
    x = np.array([[0.5, 1.0, 1.5]], dtype=np.float32)
    inp = triton.InferInput("input-0", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=True)
    result = client.infer("custom", [inp])
    np.testing.assert_allclose(result.as_numpy("output-0"), x * 2 + 1)
    client.close()


def test_infer_types_have_kserve_signatures() -> None:
    inp = InferInput(name="x", shape=[2], datatype="INT32", data=[1, 2])
    req = InferRequest(model_name="m", infer_inputs=[inp], request_id="r")
    assert req.get_input_by_name("x") is inp
    np.testing.assert_array_equal(inp.as_numpy(), np.array([1, 2], dtype=np.int32))
    out = InferOutput(name="y", shape=[2], datatype="FP32", data=np.array([1.0, 2.0], dtype=np.float32))
    resp = InferResponse(response_id="r", model_name="m", infer_outputs=[out])
    assert resp.outputs[0].data == [1.0, 2.0]
    assert resp.get_output_by_name("y") is out
