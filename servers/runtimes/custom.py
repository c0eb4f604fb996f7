"""The custom-Python runtime: a user's :class:`~zeroserve.servers.model.Model` subclass.

The class is named ``path/to/file.py:ClassName`` or ``package.module:ClassName``; it is constructed
with ``name=<model name>`` plus the JSON parameters as keyword arguments, and ``model_dir`` when
its ``__init__`` accepts one. A class written for ``kserve.Model`` works once its import says
``from zeroserve.servers.model import Model`` (or ``from zeroserve.servers import ...``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zeroserve.servers.model import Model
from zeroserve.servers.runtimes.errors import CustomModelError
from zeroserve.servers.storage import ModelStorage

__all__ = ["build_custom_model", "load_model_class", "parse_model_params"]


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise CustomModelError(f"custom: model file {path} does not exist")
    # A unique module name per file, so two files both called model.py do not collide.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"zeroserve_custom_{path.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CustomModelError(f"custom: cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise CustomModelError(f"custom: importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def load_model_class(target: str) -> type[Model]:
    """Import the model class named by ``target``.

    Args:
        target: ``path/to/file.py:ClassName`` or ``package.module:ClassName``.

    Returns:
        The class, a subclass of :class:`Model`.

    Raises:
        CustomModelError: the target is malformed, cannot be imported, has no such class, or the
            class is not a ``Model`` subclass.
    """
    location, sep, class_name = target.rpartition(":")
    if not sep or not location or not class_name:
        raise CustomModelError(
            f"custom: model class {target!r} must look like 'path/to/file.py:ClassName' "
            "or 'package.module:ClassName'"
        )
    if location.endswith(".py") or "/" in location or "\\" in location:
        module = _import_file(Path(location).expanduser())
    else:
        try:
            module = importlib.import_module(location)
        except Exception as exc:
            raise CustomModelError(
                f"custom: importing module {location!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        available = sorted(
            n
            for n, v in vars(module).items()
            if inspect.isclass(v) and issubclass(v, Model) and v.__module__ == module.__name__
        )
        raise CustomModelError(
            f"custom: {location} has no class {class_name!r} (Model subclasses there: {available or 'none'})"
        )
    if not (inspect.isclass(cls) and issubclass(cls, Model)):
        raise CustomModelError(
            f"custom: {location}:{class_name} is not a subclass of zeroserve.servers.model.Model "
            f"(a kserve.Model subclass needs its import changed to zeroserve's)"
        )
    return cls


def parse_model_params(text: str | None) -> dict[str, Any]:
    """Parse the ``--model-params`` JSON object.

    Args:
        text: a JSON object, or ``None`` / empty for no parameters.

    Returns:
        The keyword arguments.

    Raises:
        CustomModelError: the text is not a JSON object.
    """
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CustomModelError(f"custom: --model-params is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CustomModelError(f"custom: --model-params must be a JSON object, got {type(value).__name__}")
    return value


def build_custom_model(
    name: str, model_dir: Path | str | None, options: Mapping[str, Any], storage: ModelStorage | None = None
) -> Model:
    """Construct a custom model (the registry's factory for ``custom``).

    Args:
        name: the model's name.
        model_dir: the model folder, given to the class when its ``__init__`` takes ``model_dir``;
            a storage URI is resolved to a local folder first.
        options: ``model_class`` (required) and ``model_params`` (a dict or a JSON object string).
        storage: resolves ``model_dir`` when it is a URI.

    Returns:
        The (not yet loaded) model.

    Raises:
        CustomModelError: the class cannot be found or constructed with these parameters.
    """
    unknown = sorted(set(options) - {"model_class", "model_params"})
    if unknown:
        raise CustomModelError(
            f"custom: unknown option(s) {', '.join(unknown)}; known: model_class, model_params"
        )
    target = options.get("model_class")
    if not target:
        raise CustomModelError(
            "custom: --model-class is required (path/to/file.py:ClassName or package.module:ClassName)"
        )
    cls = load_model_class(str(target))
    raw = options.get("model_params")
    params = dict(raw) if isinstance(raw, Mapping) else parse_model_params(raw)
    accepted = inspect.signature(cls.__init__).parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    if model_dir is not None and "model_dir" not in params and ("model_dir" in accepted or takes_kwargs):
        if isinstance(model_dir, str) and "://" in model_dir:
            model_dir = (storage if storage is not None else ModelStorage()).resolve(model_dir)
        params["model_dir"] = str(model_dir)
    try:
        model = cls(name=name, **params)
    except TypeError as exc:
        raise CustomModelError(
            f"custom: cannot construct {target} with parameters {sorted(params)}: {exc}"
        ) from exc
    if model.name != name:
        model.name = name
    return model
