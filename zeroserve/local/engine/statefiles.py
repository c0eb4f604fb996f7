"""The engine's files under the platform's state folder are private to the user running it.

Instance logs can hold request payloads and tracebacks, ready files name ports: folders the engine
creates are ``0700`` and files it creates ``0600`` (open them with :data:`PRIVATE_FILE`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "private_dir"]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create a folder and any missing parents, each ``0700`` (folders that exist are left alone).

    Args:
        path: the folder.

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
            folder.mkdir(mode=PRIVATE_DIR)
            folder.chmod(PRIVATE_DIR)  # mkdir's mode passes through the umask
    return path
