"""TFServing's REST paths besides ``/v1/models/NAME:predict``, for the TensorFlow models of a server.

An ASGI middleware in front of the model server's app, for the models it is given:

- ``GET /v1/models/NAME`` and ``GET /v1/models/NAME/versions/N``: TFServing's model status
  (``model_version_status``), plus KServe's ``name`` / ``ready``;
- ``GET /v1/models/NAME/metadata`` (and ``/versions/N/metadata``): TFServing's signature metadata;
- ``POST /v1/models/NAME/versions/N:predict`` and ``/labels/L:predict``: the model's ``:predict``
  (404 for another version).

Every other path, and every other model, goes to the app unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from zeroserve.process.asgi import Receive, Scope, Send, respond_json

__all__ = ["TFServingModel", "TFServingSurface"]

_PREFIX = "/v1/models/"
_TF_DTYPES = {
    "FP16": "DT_HALF",
    "FP32": "DT_FLOAT",
    "FP64": "DT_DOUBLE",
    "INT8": "DT_INT8",
    "INT16": "DT_INT16",
    "INT32": "DT_INT32",
    "INT64": "DT_INT64",
    "UINT8": "DT_UINT8",
    "UINT16": "DT_UINT16",
    "UINT32": "DT_UINT32",
    "UINT64": "DT_UINT64",
    "BOOL": "DT_BOOL",
    "BYTES": "DT_STRING",
}


class TFServingModel(Protocol):
    """What the surface reads from a TensorFlow model."""

    name: str
    ready: bool
    version: str | None

    def get_input_types(self) -> list[dict[str, Any]]: ...

    def get_output_types(self) -> list[dict[str, Any]]: ...


class TFServingSurface:
    """The middleware.

    Args:
        app: the model server's ASGI app.
        models: model name -> TensorFlow model.
        signature_name: the served signature's name, for the metadata.
    """

    def __init__(self, app: Any, models: Mapping[str, Any], signature_name: str = "serving_default") -> None:
        self.app = app
        self.models = dict(models)
        self.signature_name = signature_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(_PREFIX):
            handled = await self._route(scope, receive, send)
            if handled:
                return
        await self.app(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> bool:
        rest = scope["path"][len(_PREFIX) :]
        rest, colon, verb = rest.partition(":")
        parts = rest.split("/")
        model = self.models.get(parts[0])
        if model is None:
            return False
        version: str | None = None
        tail = parts[1:]
        if len(tail) >= 2 and tail[0] in ("versions", "labels"):
            version = tail[1] if tail[0] == "versions" else None
            tail = tail[2:]
        method = scope["method"]
        if version is not None and version != (model.version or "1"):
            await respond_json(
                send, 404, {"error": f"Servable not found for request: Specific({model.name}, {version})"}
            )
            return True
        if colon:
            if tail or verb != "predict" or rest == parts[0]:
                return False  # the plain :predict / :explain paths (and unknown verbs) stay the app's
            await self.app({**scope, "path": f"{_PREFIX}{model.name}:predict"}, receive, send)
            return True
        if method not in ("GET", "HEAD") or not model.ready:
            return False  # not ready: the app's own 503
        if not tail:
            await respond_json(send, 200, self.status(model))
            return True
        if tail == ["metadata"]:
            await respond_json(send, 200, self.metadata(model))
            return True
        return False

    @staticmethod
    def status(model: TFServingModel) -> dict[str, Any]:
        """TFServing's ``GetModelStatus`` answer (with KServe's ``name`` and ``ready``)."""
        state = "AVAILABLE" if model.ready else "LOADING"
        return {
            "name": model.name,
            "ready": bool(model.ready),
            "model_version_status": [
                {
                    "version": model.version or "1",
                    "state": state,
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ],
        }

    def metadata(self, model: TFServingModel) -> dict[str, Any]:
        """TFServing's ``GetModelMetadata`` answer: the served signature's inputs and outputs."""

        def tensors(items: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                t["name"]: {
                    "dtype": _TF_DTYPES.get(t["datatype"], "DT_INVALID"),
                    "tensor_shape": {
                        "dim": [{"size": str(d), "name": ""} for d in t["shape"]],
                        "unknown_rank": False,
                    },
                    "name": t["name"],
                }
                for t in items
            }

        signature = {
            "inputs": tensors(model.get_input_types()),
            "outputs": tensors(model.get_output_types()),
            "method_name": "tensorflow/serving/predict",
        }
        return {
            "model_spec": {"name": model.name, "signature_name": "", "version": model.version or "1"},
            "metadata": {"signature_def": {"signature_def": {self.signature_name: signature}}},
        }
