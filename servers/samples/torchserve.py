"""A KServe ``pytorch`` (TorchServe) model folder built on the spot: two archives in ``model-store``.

- ``iris`` (``iris.mar``): an eager ``torch.nn.Module`` (``modelFile`` ``iris_net.py``) with a state
  dict (``serializedFile`` ``iris.pt``) served by the built-in ``base_handler``: the 3 logits per row.
- ``iris-label`` (``iris-label.mar``): the same weights with a custom ``handler.py`` that extends
  ``ts.torch_handler.base_handler.BaseHandler`` and answers the arg-max class per row; its
  ``get_insights`` explains (``:explain``) each feature's share of the target class's logit.

``config/config.properties`` is KServe's sample file (addresses, ``enable_envvars_config``,
``model_store``, ``model_snapshot``). PyTorch is imported by :func:`build` only.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from zeroserve.servers.samples import Sample

__all__ = ["HANDLER_SOURCE", "MODEL_SOURCE", "build", "write_mar"]

MODEL_SOURCE = """
import torch


class IrisNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)
"""

HANDLER_SOURCE = '''
from ts.torch_handler.base_handler import BaseHandler


class IrisLabelHandler(BaseHandler):
    """The class index per row instead of the logits."""

    def postprocess(self, data):
        return data.argmax(dim=1).tolist()

    def get_insights(self, tensor, data, target):
        """Each feature's share of the target class's logit (input x weight)."""
        return (tensor * self.model.fc.weight[target]).tolist()
'''

_ROWS = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6], [5.1, 3.5, 1.4, 0.2]]


def write_mar(path: Path, manifest_model: dict[str, Any] | None, files: dict[str, bytes]) -> Path:
    """Write a ``.mar``: ``files`` plus ``MAR-INF/MANIFEST.json`` (none when ``manifest_model`` is None)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        if manifest_model is not None:
            manifest = {"createdOn": "05/12/2026 00:00:00", "runtime": "python", "model": manifest_model}
            manifest["archiverVersion"] = "0.12.0"
            zf.writestr("MAR-INF/MANIFEST.json", json.dumps(manifest))
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _config(store: str) -> str:
    snapshot = {
        "name": "startup.cfg",
        "modelCount": 2,
        "models": {
            name: {
                "1.0": {
                    "defaultVersion": True,
                    "marName": f"{name}.mar",
                    "minWorkers": 1,
                    "maxWorkers": 5,
                    "batchSize": 1,
                    "maxBatchDelay": 10,
                    "responseTimeout": 120,
                }
            }
            for name in ("iris", "iris-label")
        },
    }
    return (
        "inference_address=http://0.0.0.0:8085\n"
        "management_address=http://0.0.0.0:8085\n"
        "metrics_address=http://0.0.0.0:8082\n"
        "grpc_inference_port=7070\n"
        "grpc_management_port=7071\n"
        "enable_metrics_api=true\n"
        "metrics_format=prometheus\n"
        "number_of_netty_threads=4\n"
        "job_queue_size=10\n"
        "enable_envvars_config=true\n"
        "install_py_dep_per_model=true\n"
        f"model_store={store}\n"
        f"model_snapshot={json.dumps(snapshot)}\n"
    )


def build(folder: Path) -> Sample:
    """Write ``folder/model-store/{iris,iris-label}.mar`` and ``folder/config/config.properties``.

    Returns:
        The sample; its ``v1_request`` / ``expected`` are for model ``iris`` (``extra["model_name"]``),
        ``extra["labels"]`` what ``iris-label`` answers.
    """
    import io

    import torch

    namespace: dict[str, Any] = {}
    exec(compile(MODEL_SOURCE, "iris_net.py", "exec"), namespace)
    torch.manual_seed(0)
    net = namespace["IrisNet"]()
    net.eval()
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    weights = buffer.getvalue()
    with torch.no_grad():
        logits = net(torch.tensor(_ROWS, dtype=torch.float32))
    store = folder / "model-store"
    common = {"iris_net.py": MODEL_SOURCE.encode(), "iris.pt": weights}
    model = {"serializedFile": "iris.pt", "modelFile": "iris_net.py", "modelVersion": "1.0"}
    write_mar(store / "iris.mar", {"modelName": "iris", "handler": "base_handler", **model}, common)
    write_mar(
        store / "iris-label.mar",
        {"modelName": "iris-label", "handler": "handler.py", **model},
        {**common, "handler.py": HANDLER_SOURCE.encode()},
    )
    (folder / "config").mkdir(parents=True, exist_ok=True)
    (folder / "config" / "config.properties").write_text(_config("/mnt/models/model-store"))
    return Sample(
        model_format="pytorch",
        model_dir=folder,
        v1_request={"instances": _ROWS},
        v2_request={"inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP32", "data": _ROWS}]},
        expected=logits.tolist(),
        tolerance=1e-4,
        runtime="kserve-torchserve",
        extra={
            "model_name": "iris",
            "labels": logits.argmax(dim=1).tolist(),
            "insights": (torch.tensor(_ROWS) * net.fc.weight[0].detach()).tolist(),
            "label_model_name": "iris-label",
            "v2_output": "predict",
        },
    )
