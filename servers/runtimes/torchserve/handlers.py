"""Finding and starting an archive's handler, as TorchServe's model loader does.

``model.handler`` is one of:

- a built-in name: ``base_handler`` (:class:`.base_handler.BaseHandler`);
- a ``.py`` file in the archive (``handler.py`` or ``handler``), or ``file:function``. A module-level
  ``handle(data, context)`` (or the named function) is the entry point, called once with
  ``data=None`` to initialise; otherwise the module must define exactly one class, which is
  instantiated and whose ``initialize(context)`` / ``handle(data, context)`` are used.

Users' handlers import ``ts.torch_handler.base_handler.BaseHandler`` and ``ts.context.Context``. When
the real ``ts`` package (TorchServe) is importable it is used untouched; only when it is absent do we
register our own modules under those names in ``sys.modules`` (no ``ts`` package is installed on disk,
so nothing shadows a real TorchServe install).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zeroserve.servers.runtimes.errors import ModelFormatError
from zeroserve.servers.runtimes.torchserve.archive import ModelArchive
from zeroserve.servers.runtimes.torchserve.base_handler import BaseHandler, list_classes_from_module
from zeroserve.servers.runtimes.torchserve.context import Context

__all__ = ["BUILTIN_HANDLERS", "Handler", "install_ts_compat", "load_handler"]

BUILTIN_HANDLERS: dict[str, type[BaseHandler]] = {"base_handler": BaseHandler}
"""TorchServe's built-in handler names we provide."""

Handler = Callable[[Any, Context], Any]
"""``handle(data, context)``."""


def install_ts_compat() -> bool:
    """Make ``import ts.torch_handler.base_handler`` and ``import ts.context`` work without TorchServe.

    Returns:
        ``True`` when our modules were registered, ``False`` when a real ``ts`` is importable.
    """
    if "ts" in sys.modules:
        return getattr(sys.modules["ts"], "__zeroserve_compat__", False)
    if importlib.util.find_spec("ts") is not None:
        return False
    names: dict[str, dict[str, Any]] = {
        "ts": {},
        "ts.context": {"Context": Context},
        "ts.torch_handler": {},
        "ts.torch_handler.base_handler": {"BaseHandler": BaseHandler},
        "ts.utils": {},
        "ts.utils.util": {"list_classes_from_module": list_classes_from_module},
    }
    for name, attrs in names.items():
        module = types.ModuleType(name, "zeroserve's stand-in for TorchServe's module of this name")
        module.__dict__.update(attrs)
        module.__dict__["__zeroserve_compat__"] = True
        module.__path__ = []  # a package, so submodules resolve
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
    return True


def _import_file(path: Path, unique: str) -> types.ModuleType:
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # handlers import their sibling files (the modelFile) by name
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ModelFormatError(f"torchserve: cannot import handler file {path.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(unique, None)
        raise ModelFormatError(
            f"torchserve: handler {path.name} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def load_handler(archive: ModelArchive, context: Context) -> Handler:
    """Import, instantiate and initialise the archive's handler.

    Args:
        archive: the extracted archive.
        context: the handler's context.

    Returns:
        The ``handle(data, context)`` entry point, initialised.

    Raises:
        ModelFormatError: the handler is neither built in nor a file of the archive, or its
            module does not define one class or a ``handle`` function.
    """
    spec = archive.handler
    module_part, _, function = spec.partition(":")
    stem = module_part[:-3] if module_part.endswith(".py") else module_part
    path = archive.model_dir / f"{stem}.py"
    if not path.is_file():
        builtin = BUILTIN_HANDLERS.get(stem.rpartition(".")[2])
        if builtin is None:
            raise ModelFormatError(
                f"torchserve: {archive.path.name}: model.handler {spec!r} is neither a file in the archive "
                f"nor a built-in handler ({', '.join(BUILTIN_HANDLERS)}); add the handler file with "
                "torch-model-archiver --handler handler.py"
            )
        service = builtin()
        service.initialize(context)
        return service.handle
    install_ts_compat()
    unique = f"zeroserve_torchserve_{archive.name}_{stem}".replace("-", "_").replace(".", "_")
    module = _import_file(path, unique)
    name = function or "handle"
    entry = getattr(module, name, None)
    if inspect.isfunction(entry):
        entry(None, context)  # TorchServe initialises a function entry point with data=None
        return entry
    if function:
        raise ModelFormatError(f"torchserve: handler {path.name} has no function {function!r}")
    classes = list_classes_from_module(module)
    if len(classes) != 1:
        raise ModelFormatError(
            f"torchserve: handler {path.name} must define exactly one class or a handle(data, context) "
            f"function; it defines {len(classes)} classes: {', '.join(c.__name__ for c in classes) or 'none'}"
        )
    service = classes[0]()
    initialize = getattr(service, "initialize", None)
    if callable(initialize):
        initialize(context)
    handle = getattr(service, "handle", None)
    if not callable(handle):
        name = classes[0].__name__
        raise ModelFormatError(f"torchserve: handler class {name} has no handle(data, context)")
    result: Handler = handle
    return result
