"""TorchServe's ``BaseHandler``, written here: the built-in ``base_handler`` and the base class users'
handlers extend (``from ts.torch_handler.base_handler import BaseHandler``).

``initialize`` loads ``serializedFile`` from the archive: with a ``modelFile`` (an eager
``torch.nn.Module`` definition, the only class in that file) it is a state dict for that class;
without one it is a TorchScript archive. ``preprocess`` turns the rows into one tensor,
``inference`` runs the model under ``torch.no_grad``, ``postprocess`` returns one list per row.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import warnings
from typing import Any

from zeroserve.servers.runtimes.errors import ModelFormatError

__all__ = ["BaseHandler", "list_classes_from_module"]


def list_classes_from_module(module: Any, parent_class: type | None = None) -> list[type]:
    """The classes defined in ``module`` itself (optionally only subclasses of ``parent_class``)."""
    classes = [
        cls for _, cls in inspect.getmembers(module, inspect.isclass) if cls.__module__ == module.__name__
    ]
    if parent_class is not None:
        classes = [c for c in classes if issubclass(c, parent_class)]
    return classes


class BaseHandler:
    """TorchServe's default handler: tensor in, model, list out."""

    def __init__(self) -> None:
        self.model: Any = None
        self.mapping: Any = None
        self.device: Any = None
        self.initialized = False
        self.context: Any = None
        self.manifest: dict[str, Any] = {}
        self.map_location = "cpu"
        self.explain = False
        self.target = 0

    def initialize(self, context: Any) -> None:
        """Load the model named by the manifest onto ``cpu`` or ``cuda:<gpu_id>``.

        Raises:
            ModelFormatError: ``serializedFile`` is missing or cannot be loaded.
        """
        import torch

        properties = context.system_properties
        gpu_id = properties.get("gpu_id")
        if torch.cuda.is_available() and gpu_id is not None:
            self.map_location = "cuda"
            self.device = torch.device(f"cuda:{gpu_id}")
        else:
            self.map_location = "cpu"
            self.device = torch.device("cpu")
        self.manifest = context.manifest
        model_dir = properties.get("model_dir")
        model = self.manifest.get("model", {})
        serialized = model.get("serializedFile")
        if not serialized:
            raise ModelFormatError(
                f"torchserve: model {model.get('modelName')}: the manifest has no model.serializedFile "
                "(base_handler needs the weights: --serialized-file)"
            )
        path = os.path.join(model_dir, serialized)
        if not os.path.isfile(path):
            raise ModelFormatError(f"torchserve: model.serializedFile {serialized} is not in the archive")
        if model.get("modelFile"):
            self.model = self._load_pickled_model(model_dir, model["modelFile"], path)
        else:
            self.model = self._load_torchscript_model(path)
        self.model.eval()
        self.initialized = True

    def _load_torchscript_model(self, model_pt_path: str) -> Any:
        import torch

        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
                return torch.jit.load(model_pt_path, map_location=self.device)
        except (RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelFormatError(
                f"torchserve: {os.path.basename(model_pt_path)} is not a TorchScript archive and the "
                f"manifest names no model.modelFile (the eager model's class) to load it into: {first}"
            ) from exc

    def _load_pickled_model(self, model_dir: str, model_file: str, model_pt_path: str) -> Any:
        import torch

        module_name = os.path.splitext(os.path.basename(model_file))[0]
        if model_dir not in sys.path:
            sys.path.insert(0, model_dir)
        module = importlib.import_module(module_name)
        classes = list_classes_from_module(module)
        if len(classes) != 1:
            raise ModelFormatError(
                f"torchserve: model.modelFile {model_file} must define exactly one class (the model), "
                f"found {len(classes)}: {', '.join(c.__name__ for c in classes) or 'none'}"
            )
        model = classes[0]()
        try:
            state = torch.load(model_pt_path, map_location=self.device, weights_only=True)
            model.load_state_dict(state)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelFormatError(
                f"torchserve: {os.path.basename(model_pt_path)} is not a state dict of "
                f"{classes[0].__name__} from {model_file}: {first}"
            ) from exc
        return model.to(self.device)

    def preprocess(self, data: Any) -> Any:
        """The rows as one tensor (a row ``{"data": ...}`` or ``{"body": ...}`` counts as its value)."""
        import torch

        rows = [row.get("data", row.get("body")) if isinstance(row, dict) else row for row in data]
        if len(rows) == 1 and isinstance(rows[0], list) and rows[0] and isinstance(rows[0][0], list):
            rows = rows[0]  # TorchServe's {"data": [[...], ...]}: one request holding a batch
        return torch.as_tensor(rows, device=self.device)

    def inference(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        """Run the model without gradients."""
        import torch

        with torch.no_grad():
            return self.model(data.to(self.device), *args, **kwargs)

    def postprocess(self, data: Any) -> Any:
        """One list per row."""
        return data.tolist()

    def handle(self, data: Any, context: Any) -> Any:
        """``preprocess -> inference -> postprocess``, or ``explain_handle`` for an explanation
        request (TorchServe's entry point)."""
        self.context = context
        prepared = self.preprocess(data)
        if self._is_explain():
            return self.explain_handle(prepared, data)
        return self.postprocess(self.inference(prepared))

    def _is_explain(self) -> bool:
        """Whether the request asks for an explanation (TorchServe's ``explain: True`` header)."""
        if self.context is not None and self.context.get_request_header(0, "explain") == "True":
            self.explain = True
            return True
        return False

    def explain_handle(self, data_preprocess: Any, raw_data: Any) -> Any:
        """Explanations from ``get_insights(tensor, data, target)``, which a handler defines (Captum).

        Raises:
            NotImplementedError: the handler defines no ``get_insights``.
        """
        insights = getattr(self, "get_insights", None)
        if not callable(insights):
            raise NotImplementedError(
                "this handler has no get_insights(tensor, data, target) to explain with"
            )
        target = 0
        first = raw_data[0] if raw_data else None
        if isinstance(first, dict) and "target" in first:
            target = first["target"]
        return [insights(row, raw_data, target) for row in data_preprocess]
