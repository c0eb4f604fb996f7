"""Reference data of a detector: a ``.npy`` or ``.csv`` file, or a folder holding one.

Remote ``storageUri`` values are fetched the KServe way, by the storage-initializer into a local
folder (``zeroserve storage-initializer <uri> <dir>``), and the detector is pointed at that folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["ReferenceDataError", "load_reference"]


class ReferenceDataError(ValueError):
    """The reference cannot be read."""


def load_reference(uri: str) -> np.ndarray:
    """Load a reference sample as a 2-D float array.

    Args:
        uri: ``file://...`` or a plain path to a ``.npy`` / ``.csv`` file, or to a folder with
            exactly one such file. A CSV may have one header row.

    Returns:
        The array ``(rows, features)``.

    Raises:
        ReferenceDataError: when the file is missing, ambiguous or not numeric.
    """
    path = Path(uri.removeprefix("file://"))
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix in (".npy", ".csv"))
        if len(found) != 1:
            raise ReferenceDataError(f"{path} must hold exactly one .npy or .csv file, found {len(found)}")
        path = found[0]
    if not path.is_file():
        raise ReferenceDataError(
            f"reference {uri!r} not found (remote URIs: run the storage-initializer first)"
        )
    try:
        if path.suffix == ".npy":
            array: np.ndarray = np.load(path, allow_pickle=False).astype(np.float64)
        elif path.suffix == ".csv":
            array = _load_csv(path)
        else:
            raise ReferenceDataError(f"reference {path.name} must be .npy or .csv")
    except (OSError, ValueError) as exc:
        if isinstance(exc, ReferenceDataError):
            raise
        raise ReferenceDataError(f"cannot read reference {path}: {exc}") from None
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2 or array.shape[0] < 2:
        raise ReferenceDataError(
            f"reference {path} must be a table of at least 2 rows, got shape {array.shape}"
        )
    return array


def _load_csv(path: Path) -> np.ndarray:
    try:
        return np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError:
        return np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2, skiprows=1)
