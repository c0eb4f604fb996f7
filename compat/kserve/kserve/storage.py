"""``kserve.storage``: KServe's ``Storage.download`` on zeroserve's model storage.

``Storage.download(uri, out_dir)`` resolves ``uri`` with :class:`zeroserve.servers.storage.ModelStorage`
(a path, ``file://``, ``pvc://``, ``http(s)://``, ``s3://``, ``gs://``; remote models through the
model cache) and, when ``out_dir`` is given, copies the model there, as KServe does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from zeroserve.servers.storage import ModelStorage

__all__ = ["Storage"]


class Storage:
    """KServe's storage helper (static methods)."""

    @staticmethod
    def download(uri: str, out_dir: str | None = None) -> str:
        """Make the model at ``uri`` local and return where it is.

        Args:
            uri: the model's storage URI.
            out_dir: copy the model's files into this folder; without it, the resolved path itself
                (the local folder, or the model cache) is returned.

        Returns:
            ``out_dir``, or the local path of the model.

        Raises:
            zeroserve.servers.storage.StorageError: unsupported or missing URI, or a failed download.
        """
        local = ModelStorage().resolve(uri)
        if out_dir is None:
            return str(local)
        target = Path(out_dir)
        target.mkdir(parents=True, exist_ok=True)
        if local.is_dir():
            shutil.copytree(local, target, dirs_exist_ok=True)
        else:
            shutil.copy2(local, target / local.name)
        return str(target)

    @staticmethod
    def download_files(uri: str, out_dir: str | None = None) -> str:
        """Same as :meth:`download` (the name some KServe versions use)."""
        return Storage.download(uri, out_dir)
