"""Model runtimes: small plug-ins, each a :class:`~zeroserve.servers.model.Model` subclass that imports
its framework only when a model loads.

=========  ==========================================  ============================
name       class / factory                             model folder
=========  ==========================================  ============================
sklearn    :class:`.sklearn.SKLearnModel`              one ``*.joblib|*.pkl|*.pickle``
xgboost    :class:`.xgboost.XGBoostModel`              one ``*.bst|*.json|*.ubj``
pytorch    :class:`.pytorch.TorchScriptModel`          one TorchScript ``*.pt``
lightgbm   :class:`.lightgbm.LightGBMModel`            one ``*.bst|*.txt`` (``model.bst``)
onnx       :class:`.onnx.ONNXModel`                    one ``*.onnx``
paddle     :class:`.paddle.PaddleModel`                ``<name>.json|.pdmodel`` + ``<name>.pdiparams``
tensorflow :class:`.tensorflow.TensorFlowModel`        ``<version>/saved_model.pb``
pmml       :class:`.pmml.PMMLModel`                    one ``*.pmml`` (pure-Python reader)
mlserver   :class:`.mlserver.MLServerModel`            ``model-settings.json`` (one or many)
custom     :func:`.custom.build_custom_model`          anything the class reads
=========  ==========================================  ============================

Tabular runtimes take pandas inputs through :mod:`.frames`; graph runtimes (ONNX, TensorFlow, Paddle) take
named tensors through :mod:`.named`.

Import the runtime modules themselves for the classes; this package exports only what needs no
framework.
"""

from zeroserve.servers.runtimes.base import FileModel, parse_options
from zeroserve.servers.runtimes.errors import (
    AmbiguousModelError,
    CustomModelError,
    DeviceUnavailableError,
    ModelFormatError,
    ModelMissingError,
    RuntimeOptionsError,
    UnknownRuntimeError,
)
from zeroserve.servers.runtimes.files import find_model_file
from zeroserve.servers.runtimes.registry import RuntimeEntry, RuntimeFactory, RuntimeRegistry

__all__ = [
    "AmbiguousModelError",
    "CustomModelError",
    "DeviceUnavailableError",
    "FileModel",
    "ModelFormatError",
    "ModelMissingError",
    "RuntimeEntry",
    "RuntimeFactory",
    "RuntimeOptionsError",
    "RuntimeRegistry",
    "UnknownRuntimeError",
    "find_model_file",
    "parse_options",
]
