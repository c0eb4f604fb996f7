"""The runtime registry: runtime names (``sklearn``, ``xgboost``, ``pytorch``, ``custom``) -> factories.

Entries name their factory as ``module:attribute`` and are imported only when used, so listing the
runtimes costs no framework import. A registry is an ordinary object: the CLI builds the built-in
one with :meth:`RuntimeRegistry.builtin`, tests and embedders may register more.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from zeroserve.servers.model import Model
from zeroserve.servers.runtimes.errors import UnknownRuntimeError
from zeroserve.servers.storage import ModelStorage

__all__ = ["RuntimeEntry", "RuntimeFactory", "RuntimeRegistry"]


class RuntimeFactory(Protocol):
    """Builds a (not yet loaded) model of one runtime."""

    def __call__(
        self,
        name: str,
        model_dir: Path | str | None,
        options: Mapping[str, Any],
        storage: ModelStorage | None = None,
    ) -> Model: ...


@dataclass(frozen=True)
class RuntimeEntry:
    """One runtime: its name, where its factory lives, and a one-line summary."""

    name: str
    """The name used on the command line: ``zeroserve serve <name>``."""
    target: str
    """``module:attribute`` of a :class:`RuntimeFactory` (a ``FileModel`` subclass's ``from_options``
    or a function), imported on first use."""
    summary: str = ""
    """Shown by ``zeroserve serve --help``."""
    aliases: tuple[str, ...] = ()
    """Other accepted names (e.g. KServe's image names ``sklearnserver``)."""

    def load(self) -> RuntimeFactory:
        """Import and return the factory."""
        module_name, _, attr = self.target.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        factory: RuntimeFactory = obj
        return factory


_BUILTIN = (
    RuntimeEntry(
        "sklearn",
        "zeroserve.servers.runtimes.sklearn:SKLearnModel.from_options",
        "scikit-learn estimator (*.joblib, *.pkl, *.pickle)",
        ("sklearnserver",),
    ),
    RuntimeEntry(
        "xgboost",
        "zeroserve.servers.runtimes.xgboost:XGBoostModel.from_options",
        "XGBoost booster (*.bst, *.json, *.ubj)",
        ("xgbserver",),
    ),
    RuntimeEntry(
        "pytorch",
        "zeroserve.servers.runtimes.pytorch:TorchScriptModel.from_options",
        "TorchScript module (model.pt) on cpu or cuda:N",
        ("pytorchserver", "torchscript"),
    ),
    RuntimeEntry(
        "torchserve",
        "zeroserve.servers.runtimes.torchserve:build_torchserve",
        "TorchServe archives (model-store/*.mar + config/config.properties): KServe's pytorch",
        ("torchserve-kfs",),
    ),
    RuntimeEntry(
        "lightgbm",
        "zeroserve.servers.runtimes.lightgbm:LightGBMModel.from_options",
        "LightGBM booster (model.bst; *.bst, *.txt)",
        ("lgbserver",),
    ),
    RuntimeEntry(
        "onnx",
        "zeroserve.servers.runtimes.onnx:ONNXModel.from_options",
        "ONNX graph run by onnxruntime (model.onnx; *.onnx)",
        ("onnxruntime",),
    ),
    RuntimeEntry(
        "paddle",
        "zeroserve.servers.runtimes.paddle:PaddleModel.from_options",
        "PaddlePaddle program run by paddle.inference (<name>.json or .pdmodel + <name>.pdiparams)",
        ("paddleserver", "paddlepaddle"),
    ),
    RuntimeEntry(
        "triton",
        "zeroserve.servers.runtimes.triton:build_triton",
        "Triton model repository (<model>/config.pbtxt; onnxruntime, pytorch_libtorch, python)",
        ("tritonserver",),
    ),
    RuntimeEntry(
        "pmml",
        "zeroserve.servers.runtimes.pmml:PMMLModel.from_options",
        "PMML document, pure-Python reader (model.pmml; *.pmml)",
        ("pmmlserver",),
    ),
    RuntimeEntry(
        "art",
        "zeroserve.servers.explainers.art:build_art",
        "explainer: KServe's ART SquareAttack over the predictor (--predictor_host)",
        ("artserver", "art-explainer"),
    ),
    RuntimeEntry(
        "kernelshap",
        "zeroserve.servers.explainers.kernelshap:build_kernelshap",
        "explainer: Kernel SHAP values of tabular predictions (--predictor_host)",
    ),
    RuntimeEntry(
        "tensorflow",
        "zeroserve.servers.runtimes.tensorflow:TensorFlowModel.from_options",
        "TensorFlow SavedModel, TFServing's REST API and V2 (DIR/<version>/saved_model.pb)",
        ("tensorflow-serving", "tfserving"),
    ),
    RuntimeEntry(
        "mlserver",
        "zeroserve.servers.runtimes.mlserver:MLServerModel.from_options",
        "MLServer model folder(s): model-settings.json with sklearn / xgboost / lightgbm (V2 only)",
        ("kserve-mlserver",),
    ),
    RuntimeEntry(
        "custom",
        "zeroserve.servers.runtimes.custom:build_custom_model",
        "your Model subclass (--model-class file.py:Class or pkg.mod:Class)",
    ),
)


class RuntimeRegistry:
    """Runtimes by name.

    Args:
        entries: the runtimes to start with.
    """

    def __init__(self, entries: Iterable[RuntimeEntry] = ()) -> None:
        self._entries: dict[str, RuntimeEntry] = {}
        self._aliases: dict[str, str] = {}
        for entry in entries:
            self.register(entry)

    @classmethod
    def builtin(cls) -> RuntimeRegistry:
        """A registry of the built-in runtimes: sklearn, xgboost, pytorch, custom."""
        return cls(_BUILTIN)

    def register(self, entry: RuntimeEntry) -> None:
        """Add (or replace) a runtime.

        Args:
            entry: the runtime.
        """
        self._entries[entry.name] = entry
        for alias in entry.aliases:
            self._aliases[alias] = entry.name

    def entries(self) -> list[RuntimeEntry]:
        """Every registered runtime, in registration order."""
        return list(self._entries.values())

    def names(self) -> list[str]:
        """The registered runtime names."""
        return list(self._entries)

    def get(self, name: str) -> RuntimeEntry:
        """The runtime called ``name`` (or one of its aliases).

        Raises:
            UnknownRuntimeError: no such runtime; the message lists the known ones.
        """
        key = name.strip().lower()
        entry = self._entries.get(key) or self._entries.get(self._aliases.get(key, ""))
        if entry is None:
            raise UnknownRuntimeError(f"unknown runtime {name!r}; known runtimes: {', '.join(self._entries)}")
        return entry

    def create(
        self,
        runtime: str,
        name: str,
        model_dir: Path | str | None,
        options: Mapping[str, Any] | None = None,
        storage: ModelStorage | None = None,
    ) -> Model:
        """Build a (not yet loaded) model of ``runtime``.

        Args:
            runtime: the runtime's name or alias.
            name: the model's name.
            model_dir: local folder or storage URI of the model.
            options: runtime options, e.g. ``{"predict_proba": True}``.
            storage: resolves storage URIs.

        Returns:
            The model; call (or let the server call) ``load()``.
        """
        return self.get(runtime).load()(name, model_dir, options or {}, storage)
