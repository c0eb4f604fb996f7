"""Finding and building the user's class, as Seldon's ``seldon-core-microservice`` does.

``interface_name`` is ``Module`` (class of the same name in ``Module.py``), ``module.Class``, or our
``module:Class``; the folder (``--model-dir``, else the working directory) goes first on
``sys.path``. ``--parameters`` is Seldon's JSON list ``[{"name", "value", "type"}]`` with ``type`` one
of INT, FLOAT, DOUBLE, STRING, BOOL, JSON, passed to the constructor as keyword arguments.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["ComponentLoadError", "import_user_class", "parse_parameters"]

_TRUE = ("1", "true", "yes", "on", "t", "y")
_FALSE = ("0", "false", "no", "off", "f", "n")


class ComponentLoadError(ValueError):
    """The user's class or its parameters cannot be loaded; the message says which and why."""


def split_interface(interface_name: str) -> tuple[str, str]:
    """``(module, class)`` of ``Module``, ``module.Class`` or ``module:Class``."""
    if ":" in interface_name:
        module, _, cls = interface_name.partition(":")
    elif "." in interface_name:
        module, _, cls = interface_name.rpartition(".")
    else:
        module = cls = interface_name
    if not module or not cls:
        raise ComponentLoadError(
            f"interface name {interface_name!r} is not Module, module.Class or module:Class"
        )
    return module, cls


def import_user_class(interface_name: str, folder: str | Path | None = None) -> type:
    """Import the user's class.

    Args:
        interface_name: ``Module``, ``module.Class`` or ``module:Class``.
        folder: put first on ``sys.path`` (the working directory when ``None``).

    Raises:
        ComponentLoadError: the module or the class cannot be found.
    """
    module_name, class_name = split_interface(interface_name)
    where = str(Path(folder).resolve()) if folder is not None else str(Path.cwd())
    if where not in sys.path:
        sys.path.insert(0, where)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ComponentLoadError(f"no module {module_name!r} in {where} or on the Python path") from None
        raise
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise ComponentLoadError(f"module {module_name!r} ({module.__file__}) has no class {class_name!r}")
    return cls


def parse_parameters(text: str | None) -> dict[str, Any]:
    """Seldon's ``--parameters`` JSON list, typed, as constructor keyword arguments.

    Raises:
        ComponentLoadError: not a JSON list of ``{"name", "value", "type"}`` objects, or a value
            that does not fit its type (Seldon's ``MICROSERVICE_BAD_PARAMETER``).
    """
    if text is None or not text.strip():
        return {}
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ComponentLoadError(f"--parameters is not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(items, list):
        raise ComponentLoadError('--parameters must be a JSON list of {"name", "value", "type"} objects')
    params: dict[str, Any] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "value" not in item:
            raise ComponentLoadError(f'--parameters[{i}] needs "name" (a string) and "value"')
        kind = str(item.get("type", "STRING")).upper()
        params[item["name"]] = _typed(item["value"], kind, f"--parameters[{i}] ({item['name']})")
    return params


def _typed(value: Any, kind: str, where: str) -> Any:
    try:
        if kind == "INT":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind in ("FLOAT", "DOUBLE"):
            return float(value)
        if kind == "STRING":
            return value if isinstance(value, str) else json.dumps(value)
        if kind == "BOOL":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError
        if kind == "JSON":
            return json.loads(value) if isinstance(value, str) else value
    except (TypeError, ValueError):
        raise ComponentLoadError(f"{where}: {value!r} is not a valid {kind}") from None
    raise ComponentLoadError(f"{where}: unknown type {kind!r} (INT, FLOAT, DOUBLE, STRING, BOOL or JSON)")
