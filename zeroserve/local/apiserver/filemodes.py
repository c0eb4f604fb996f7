"""Owner-only permissions for everything the API server keeps in the state folder.

The database (and SQLite's ``-wal`` / ``-shm`` files beside it), the bearer token, the CA and serving
key and certificates are readable by their owner only (0600), and the folders holding them are 0700.
New files are created with those modes; :func:`secure_folder` also repairs what an older version, or
a permissive umask, left behind when the server starts.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "create_private_file", "private_folder", "secure_folder"]

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: Path) -> Path:
    """Create a folder (and missing parents) readable only by its owner, or tighten an existing one.

    Args:
        path: the folder.

    Returns:
        ``path``.
    """
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != FOLDER_MODE:
        path.chmod(FOLDER_MODE)
    return path


def create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 unless it exists (SQLite's ``-wal`` and ``-shm`` files take
    the database file's mode).

    Args:
        path: the file.
    """
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))


def secure_folder(folder: Path) -> None:
    """Make ``folder`` 0700 and every folder and file under it 0700 / 0600.

    Args:
        folder: the API server's folder in the state folder (created when missing).
    """
    private_folder(folder)
    for root, folders, files in os.walk(folder):
        for name in folders:
            private_folder(Path(root) / name)
        for name in files:
            path = Path(root) / name
            if path.is_symlink():
                continue
            if stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
                path.chmod(FILE_MODE)
