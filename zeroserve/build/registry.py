"""The registry of images built by ``zeroserve build``, which the embedded platform runs from their folder.

One JSON file, ``<state folder>/images/built.json`` (mode 0600)::

    {"images": {"<repository>:<tag>": {
        "folder": "/abs/model/folder",          # the working directory of an instance
        "args": ["serve", "seldon", "Model", "--service-type", "MODEL", "--persistence", "0"],
        "env": {"MODEL_NAME": "Model", ...},    # the .s2i/environment keys
        "python": "/state/build/envs/<hash>/bin/python",   # the folder's own environment
        "environment": "/state/build/envs/<hash>",
        "requirements_hash": "<sha256>",
        "registered_at": "2026-12-05T10:00:00Z"}}}

``args`` is the image's ``CMD``: a ``zeroserve`` command line (``serve seldon ...``) or ``python
MODULE.py``; either runs with ``python``. A reference without a tag means ``:latest``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zeroserve.process.private import FILE_MODE, private_folder

__all__ = ["BuiltImage", "lookup", "normalize", "register", "registry_path"]


@dataclass(frozen=True)
class BuiltImage:
    """One registered image."""

    reference: str
    folder: Path
    args: list[str]
    env: dict[str, str]
    python: str
    environment: str
    requirements_hash: str


def registry_path(state_dir: Path) -> Path:
    """Where the registry lives under a platform's state folder."""
    return Path(state_dir) / "images" / "built.json"


def normalize(image: str) -> str:
    """``repository:tag`` of a reference (``:latest`` when untagged; ``docker.io/`` and ``library/`` dropped).

    Args:
        image: the reference.

    Returns:
        The registry's key.
    """
    ref = image.split("@", 1)[0]
    for prefix in ("docker.io/", "index.docker.io/"):
        ref = ref.removeprefix(prefix)
    ref = ref.removeprefix("library/")
    if ref.rfind(":") <= ref.rfind("/"):
        ref += ":latest"
    return ref


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"images": {}}
    return data if isinstance(data, dict) and isinstance(data.get("images"), dict) else {"images": {}}


def register(state_dir: Path, image: BuiltImage) -> Path:
    """Add or replace an image in the registry (written atomically).

    Args:
        state_dir: the platform's state folder.
        image: the image.

    Returns:
        The registry file.
    """
    path = registry_path(state_dir)
    private_folder(path.parent)
    data = _read(path)
    data["images"][normalize(image.reference)] = {
        "folder": str(image.folder),
        "args": image.args,
        "env": image.env,
        "python": image.python,
        "environment": image.environment,
        "requirements_hash": image.requirements_hash,
        "registered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    tmp.replace(path)
    return path


def lookup(state_dir: Path, image: str) -> BuiltImage | None:
    """The registered image of a reference.

    Args:
        state_dir: the platform's state folder.
        image: the container's image reference.

    Returns:
        The image, or ``None`` when ``zeroserve build`` did not register it (or the file is unreadable).
    """
    entry = _read(registry_path(state_dir))["images"].get(normalize(image))
    if not isinstance(entry, dict):
        return None
    try:
        return BuiltImage(
            reference=normalize(image),
            folder=Path(entry["folder"]),
            args=[str(a) for a in entry["args"]],
            env={str(k): str(v) for k, v in (entry.get("env") or {}).items()},
            python=str(entry["python"]),
            environment=str(entry.get("environment") or ""),
            requirements_hash=str(entry.get("requirements_hash") or ""),
        )
    except (KeyError, TypeError):
        return None
