"""TorchServe model archives (``.mar``): a zip with ``MAR-INF/MANIFEST.json`` and the model's files.

The manifest's ``model`` object names the model (``modelName``), its weights (``serializedFile``), its
handler (a built-in name such as ``base_handler``, a ``.py`` file in the archive, or ``module:function``),
an eager model definition (``modelFile``) and a version (``modelVersion``). An archive is extracted into
a fresh folder that becomes the handler's ``model_dir``, as TorchServe does.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zeroserve.servers.runtimes.errors import ModelFormatError

__all__ = ["MANIFEST", "ModelArchive", "open_archive"]

MANIFEST = "MAR-INF/MANIFEST.json"
"""Where the manifest sits inside an archive."""


@dataclass(frozen=True)
class ModelArchive:
    """An extracted ``.mar``."""

    path: Path
    """The archive file."""
    model_dir: Path
    """The folder it was extracted into (the handler's ``system_properties["model_dir"]``)."""
    manifest: dict[str, Any]
    """``MAR-INF/MANIFEST.json`` as written."""

    @property
    def model(self) -> dict[str, Any]:
        """The manifest's ``model`` object."""
        model: dict[str, Any] = self.manifest["model"]
        return model

    @property
    def name(self) -> str:
        """``model.modelName``."""
        return str(self.model["modelName"])

    @property
    def handler(self) -> str:
        """``model.handler``."""
        return str(self.model["handler"])

    @property
    def version(self) -> str:
        """``model.modelVersion`` (``1.0`` when absent, as torch-model-archiver writes it)."""
        return str(self.model.get("modelVersion") or "1.0")


def _manifest(zf: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    names = zf.namelist()
    if MANIFEST not in names:
        raise ModelFormatError(
            f"torchserve: {path} has no {MANIFEST}; build the archive with torch-model-archiver "
            f"(--model-name, --handler, --serialized-file) or add a manifest with "
            f'{{"model": {{"modelName": ..., "handler": ..., "serializedFile": ...}}}}'
        )
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except ValueError as exc:
        raise ModelFormatError(f"torchserve: {path}: {MANIFEST} is not JSON ({exc})") from None
    model = manifest.get("model") if isinstance(manifest, dict) else None
    if not isinstance(model, dict):
        raise ModelFormatError(f'torchserve: {path}: {MANIFEST} has no "model" object')
    for key in ("modelName", "handler"):
        if not model.get(key):
            raise ModelFormatError(f"torchserve: {path}: {MANIFEST} model.{key} is missing")
    serialized = model.get("serializedFile")
    if serialized and serialized not in names:
        raise ModelFormatError(
            f"torchserve: {path}: model.serializedFile {serialized!r} is not in the archive"
        )
    return dict(manifest)


def open_archive(path: Path, workdir: Path | None = None) -> ModelArchive:
    """Check and extract one ``.mar``.

    Args:
        path: the archive.
        workdir: where to extract it; a new temporary folder when omitted.

    Returns:
        The extracted archive.

    Raises:
        ModelFormatError: not a zip, no manifest, or a manifest missing ``modelName``/``handler``.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = _manifest(zf, path)
            target = workdir or Path(tempfile.mkdtemp(prefix=f"torchserve-{path.stem}-"))
            zf.extractall(target)  # extractall drops absolute paths and ".." parts
    except zipfile.BadZipFile:
        raise ModelFormatError(
            f"torchserve: {path} is not a model archive (a .mar is a zip made by torch-model-archiver)"
        ) from None
    return ModelArchive(path, target, manifest)
