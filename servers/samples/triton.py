"""A Triton model repository built on the spot, one model per backend we run:

- ``iris-onnx`` (``platform: "onnxruntime_onnx"``, ``max_batch_size: 8``): ``OUTPUT0 = INPUT0 @ W + B``,
  written with ``onnx.helper``;
- ``iris-torch`` (``platform: "pytorch_libtorch"``): the same affine map as TorchScript
  (``INPUT__0`` -> ``OUTPUT__0``);
- ``add-sub`` (``backend: "python"``): Triton's classic ``OUTPUT0 = INPUT0 + INPUT1``,
  ``OUTPUT1 = INPUT0 - INPUT1`` written with ``triton_python_backend_utils``.

Triton speaks only V2, so ``v1_request`` is empty. ``expected`` is what onnxruntime computed in-process
for ``v2_request`` (model ``iris-onnx``); ``extra`` holds the other models' requests and answers.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from zeroserve.servers.samples import Sample

__all__ = ["ONNX_CONFIG", "PYTHON_MODEL", "build"]

ONNX_CONFIG = """
name: "iris-onnx"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "INPUT0"
    data_type: TYPE_FP32
    dims: [ 4 ]
  }
]
output [
  {
    name: "OUTPUT0"
    data_type: TYPE_FP32
    dims: [ 3 ]
  }
]
version_policy: { latest { num_versions: 1 } }
instance_group [ { count: 1, kind: KIND_CPU } ]
"""

TORCH_CONFIG = """
name: "iris-torch"
platform: "pytorch_libtorch"
max_batch_size: 8
input [ { name: "INPUT__0", data_type: TYPE_FP32, dims: [ 4 ] } ]
output [ { name: "OUTPUT__0", data_type: TYPE_FP32, dims: [ 3 ] } ]
"""

PYTHON_CONFIG = """
name: "add-sub"
backend: "python"
input [
  { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] }
]
output [
  { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] }
]
"""

PYTHON_MODEL = """
import json

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        out0 = pb_utils.get_output_config_by_name(config, "OUTPUT0")
        self.dtype = pb_utils.triton_string_to_numpy(out0["data_type"])

    def execute(self, requests):
        responses = []
        for request in requests:
            a = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            b = pb_utils.get_input_tensor_by_name(request, "INPUT1").as_numpy()
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[
                        pb_utils.Tensor("OUTPUT0", (a + b).astype(self.dtype)),
                        pb_utils.Tensor("OUTPUT1", (a - b).astype(self.dtype)),
                    ]
                )
            )
        return responses

    def finalize(self):
        pass
"""

_ROWS = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6], [5.1, 3.5, 1.4, 0.2]]


def _weights() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(3,)).astype(np.float32)


def _write_onnx(path: Path, w: np.ndarray, b: np.ndarray) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["INPUT0", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "B"], ["OUTPUT0"]),
        ],
        "iris",
        [helper.make_tensor_value_info("INPUT0", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("OUTPUT0", TensorProto.FLOAT, [None, 3])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def _write_torchscript(path: Path, w: np.ndarray, b: np.ndarray) -> None:
    import torch

    layer = torch.nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w.T.copy()))
        layer.bias.copy_(torch.from_numpy(b))
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.9 deprecates TorchScript
        torch.jit.script(layer).save(str(path))


def build(folder: Path, *, torch: bool = True) -> Sample:
    """Write the repository into ``folder``.

    Args:
        folder: the repository root.
        torch: also write ``iris-torch`` (needs PyTorch).

    Returns:
        The sample (``extra["model_name"]`` is ``iris-onnx``).
    """
    import onnxruntime as ort

    w, b = _weights()
    onnx_dir = folder / "iris-onnx"
    _write_onnx(onnx_dir / "1" / "model.onnx", w, b)
    (onnx_dir / "config.pbtxt").write_text(ONNX_CONFIG)
    if torch:
        _write_torchscript(folder / "iris-torch" / "1" / "model.pt", w, b)
        (folder / "iris-torch" / "config.pbtxt").write_text(TORCH_CONFIG)
    (folder / "add-sub" / "1").mkdir(parents=True, exist_ok=True)
    (folder / "add-sub" / "1" / "model.py").write_text(PYTHON_MODEL)
    (folder / "add-sub" / "config.pbtxt").write_text(PYTHON_CONFIG)

    rows = np.asarray(_ROWS, dtype=np.float32)
    session = ort.InferenceSession(str(onnx_dir / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    expected = session.run(["OUTPUT0"], {"INPUT0": rows})[0]
    a, c = rows[0], rows[1]
    add_sub: dict[str, Any] = {
        "request": {
            "inputs": [
                {"name": "INPUT0", "shape": [4], "datatype": "FP32", "data": a.tolist()},
                {"name": "INPUT1", "shape": [4], "datatype": "FP32", "data": c.tolist()},
            ]
        },
        "OUTPUT0": (a + c).tolist(),
        "OUTPUT1": (a - c).tolist(),
    }
    return Sample(
        model_format="triton",
        model_dir=folder,
        v1_request={},
        v2_request={"inputs": [{"name": "INPUT0", "shape": [3, 4], "datatype": "FP32", "data": _ROWS}]},
        expected=expected.tolist(),
        tolerance=1e-4,
        runtime="kserve-tritonserver",
        extra={
            "model_name": "iris-onnx",
            "v2_output": "OUTPUT0",
            "v1": False,
            "torch_model_name": "iris-torch" if torch else None,
            "torch_request": {
                "inputs": [{"name": "INPUT__0", "shape": [3, 4], "datatype": "FP32", "data": _ROWS}]
            },
            "add_sub": add_sub,
        },
    )
