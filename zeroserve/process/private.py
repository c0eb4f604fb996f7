"""Files and folders private to the user running the process (the platform's state folder).

Every file a zeroserve process keeps under its state folder can hold secrets or payloads (tokens,
keys, the API server's database with Secrets, instance logs with request bodies): files are created
``0600`` and folders ``0700``, whatever the umask, and :func:`secure_tree` repairs what an older
version or a permissive umask left behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "create_private_file", "private_folder", "secure_tree"]

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: Path, *, tighten: bool = True) -> Path:
    """Create a folder and each missing parent ``0700``; an existing ``path`` is tightened to ``0700``.

    Args:
        path: the folder.
        tighten: also make ``path`` ``0700`` when it existed already (``False`` for a folder the
            user named, whose mode is theirs).

    Returns:
        ``path``.
    """
    missing: list[Path] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=FOLDER_MODE)
    if (tighten or path in missing) and stat.S_IMODE(path.stat().st_mode) != FOLDER_MODE:
        path.chmod(FOLDER_MODE)  # mkdir's mode passes through the umask
    for folder in missing:
        if stat.S_IMODE(folder.stat().st_mode) != FOLDER_MODE:
            folder.chmod(FOLDER_MODE)
    return path


def create_private_file(path: Path) -> None:
    """Create an empty ``0600`` file unless it exists (SQLite's ``-wal`` / ``-shm`` take its mode).

    Args:
        path: the file.
    """
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    if stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
        path.chmod(FILE_MODE)


def secure_tree(folder: Path) -> None:
    """Make ``folder`` and every folder under it ``0700``, every file ``0600`` (links are left alone).

    Args:
        folder: the folder (created when missing).
    """
    private_folder(folder)
    for root, folders, files in os.walk(folder):
        for name in folders:
            private_folder(Path(root) / name)
        for name in files:
            path = Path(root) / name
            if not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
                path.chmod(FILE_MODE)
