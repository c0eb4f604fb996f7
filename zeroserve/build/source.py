"""A model folder as ``zeroserve build`` reads it: which module, which role, which requirements.

The folder follows Seldon's source-to-image layout: a Seldon class in ``<MODEL_NAME>.py`` (``Model.py``
by default) or a kserve-style model module (a ``.py`` that imports ``kserve``, run as a script), an
optional ``requirements.txt`` and an optional ``.s2i/environment`` of ``KEY=VALUE`` lines. Seldon's keys
are ``MODEL_NAME``, ``SERVICE_TYPE`` (MODEL, ROUTER, TRANSFORMER, OUTPUT_TRANSFORMER, COMBINER,
OUTLIER_DETECTOR), ``PERSISTENCE`` (0 or 1) and ``API_TYPE`` (REST or GRPC); every key, ours
(``ZEROSERVE_*``) included, also becomes the image's environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SERVICE_TYPES", "BuildError", "ModelSource", "parse_environment", "read_source"]

SERVICE_TYPES = ("MODEL", "ROUTER", "TRANSFORMER", "OUTPUT_TRANSFORMER", "COMBINER", "OUTLIER_DETECTOR")
"""Seldon's roles (``zeroserve serve seldon --service-type``)."""
_API_TYPES = ("REST", "GRPC")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KSERVE_IMPORT = re.compile(r"^\s*(import\s+kserve\b|from\s+kserve\b)", re.MULTILINE)


class BuildError(Exception):
    """The folder, its files or the build failed; the message is one line naming the file (and line)."""


@dataclass(frozen=True)
class ModelSource:
    """What a model folder holds."""

    folder: Path
    """The folder, absolute."""
    kind: str
    """``seldon`` (a class served by the Seldon wrapper) or ``kserve`` (a module run as a script)."""
    module: str
    """The module's name (its file without ``.py``)."""
    service_type: str = "MODEL"
    persistence: str = "0"
    api_type: str = "REST"
    environment: dict[str, str] = field(default_factory=dict)
    """Every ``.s2i/environment`` key: the image's environment."""
    requirements: Path | None = None
    """``requirements.txt`` when present."""

    def args(self) -> list[str]:
        """The ``zeroserve`` command line that serves the folder (the image's ``CMD``).

        Returns:
            ``serve seldon MODULE --service-type T --persistence P`` for a Seldon class, or ``python
            MODULE.py`` for a kserve module (run with the image's interpreter).
        """
        if self.kind == "seldon":
            return [
                "serve",
                "seldon",
                self.module,
                "--service-type",
                self.service_type,
                "--persistence",
                self.persistence,
            ]
        return ["python", f"{self.module}.py"]


def parse_environment(path: Path) -> dict[str, str]:
    """Read an s2i environment file: ``KEY=VALUE`` lines, blank lines and ``#`` comments.

    Args:
        path: the file.

    Returns:
        The keys in file order (quotes around a value are removed).

    Raises:
        BuildError: a line that is not ``KEY=VALUE`` (the message names file and line).
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        if not sep or not _KEY.match(key):
            raise BuildError(f"{path}:{number}: expected KEY=VALUE, got {raw.strip()!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def _line_of(path: Path, key: str) -> int:
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        if raw.strip().removeprefix("export ").strip().startswith(f"{key}="):
            return number
    return 0


def _check_choice(path: Path, env: dict[str, str], key: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(key, default).upper() if key != "PERSISTENCE" else env.get(key, default)
    if value not in choices:
        raise BuildError(
            f"{path}:{_line_of(path, key)}: unknown {key} {env[key]!r} (expected one of {', '.join(choices)})"
        )
    return value


def _kserve_module(folder: Path) -> str | None:
    candidates = sorted(folder.glob("*.py"), key=lambda p: (p.name != "model.py", p.name))
    for path in candidates:
        if _KSERVE_IMPORT.search(path.read_text(errors="replace")):
            return path.stem
    return None


def read_source(folder: Path) -> ModelSource:
    """Read a model folder.

    Args:
        folder: the folder given to ``zeroserve build``.

    Returns:
        What it holds.

    Raises:
        BuildError: no such folder, no model module, or a bad ``.s2i/environment`` (file and line named).
    """
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise BuildError(f"{folder}: not a folder")
    env_file = folder / ".s2i" / "environment"
    env = parse_environment(env_file) if env_file.is_file() else {}
    service_type = _check_choice(env_file, env, "SERVICE_TYPE", SERVICE_TYPES, "MODEL")
    persistence = _check_choice(env_file, env, "PERSISTENCE", ("0", "1"), "0")
    api_type = _check_choice(env_file, env, "API_TYPE", _API_TYPES, "REST")
    requirements = folder / "requirements.txt"
    common = {
        "folder": folder,
        "service_type": service_type,
        "persistence": persistence,
        "api_type": api_type,
        "environment": env,
        "requirements": requirements if requirements.is_file() else None,
    }
    name = env.get("MODEL_NAME")
    if name:
        module = folder / f"{name}.py"
        if not module.is_file():
            raise BuildError(
                f"{env_file}:{_line_of(env_file, 'MODEL_NAME')}: "
                f"MODEL_NAME {name!r} but {module} does not exist"
            )
        text = module.read_text(errors="replace")
        if re.search(rf"^class\s+{re.escape(name)}\b", text, re.MULTILINE):
            return ModelSource(kind="seldon", module=name, **common)  # type: ignore[arg-type]
        if _KSERVE_IMPORT.search(text):
            return ModelSource(kind="kserve", module=name, **common)  # type: ignore[arg-type]
        raise BuildError(f"{module}: defines no class {name} (a Seldon model) and does not import kserve")
    if (folder / "Model.py").is_file():
        return ModelSource(kind="seldon", module="Model", **common)  # type: ignore[arg-type]
    kserve = _kserve_module(folder)
    if kserve is not None:
        return ModelSource(kind="kserve", module=kserve, **common)  # type: ignore[arg-type]
    raise BuildError(
        f"{folder}: no model module: expected Model.py (a Seldon class Model), "
        "MODEL_NAME in .s2i/environment, "
        "or a kserve model module (a .py that imports kserve)"
    )
