"""Finding a runtime's model file in a model folder: exactly one file of the runtime's formats."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from zeroserve.servers.runtimes.errors import AmbiguousModelError, ModelMissingError

__all__ = ["find_model_file"]


def find_model_file(model_dir: Path, patterns: Sequence[str], runtime: str) -> Path:
    """The single model file in ``model_dir`` matching one of ``patterns``.

    The folder's top level is searched first; only when it holds no match are its sub-folders
    searched (archives often wrap the model in one folder). ``model_dir`` may also be the file itself.

    Args:
        model_dir: the model folder (or a model file).
        patterns: glob patterns such as ``("*.joblib", "*.pkl", "*.pickle")``.
        runtime: the runtime's name, for error messages.

    Returns:
        The model file.

    Raises:
        ModelMissingError: the folder does not exist or holds no matching file.
        AmbiguousModelError: more than one file matches; the message names them.
    """
    wanted = ", ".join(patterns)
    if model_dir.is_file():
        if any(model_dir.match(p) for p in patterns):
            return model_dir
        raise ModelMissingError(f"{runtime}: model file {model_dir} is not one of {wanted}")
    if not model_dir.is_dir():
        raise ModelMissingError(f"{runtime}: model folder {model_dir} does not exist")
    found = _matches(model_dir, patterns, recursive=False) or _matches(model_dir, patterns, recursive=True)
    if not found:
        raise ModelMissingError(f"{runtime}: no model file ({wanted}) found in {model_dir}")
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(model_dir)) for p in found)
        raise AmbiguousModelError(
            f"{runtime}: expected exactly one model file ({wanted}) in {model_dir}, "
            f"found {len(found)}: {names}"
        )
    return found[0]


def _matches(folder: Path, patterns: Sequence[str], *, recursive: bool) -> list[Path]:
    found: set[Path] = set()
    for pattern in patterns:
        hits = folder.rglob(pattern) if recursive else folder.glob(pattern)
        found.update(p for p in hits if p.is_file() and not p.name.startswith("."))
    return sorted(found)
