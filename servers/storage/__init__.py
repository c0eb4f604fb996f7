"""Model storage: resolve a ``storageUri`` (path, ``file://``, ``pvc://``, ``http(s)://``, ``s3://``,
``gs://``) to local files, through URI mirrors and an atomic, URI-keyed model cache.

Typical use::

    storage = ModelStorage(StorageSettings(cache_dir=Path("/var/cache/models")))
    model_dir = storage.resolve("s3://models/iris")
"""

from zeroserve.servers.storage.errors import (
    ArchiveEscapeError,
    ArchiveTooLargeError,
    BackendUnavailableError,
    DownloadError,
    StorageError,
    StorageNotFoundError,
    UnsupportedURIError,
)
from zeroserve.servers.storage.progress import DownloadProgress, ProgressReporter, log_progress
from zeroserve.servers.storage.resolver import ModelStorage, RemoteBackend
from zeroserve.servers.storage.settings import StorageSettings, default_cache_dir

__all__ = [
    "ArchiveEscapeError",
    "ArchiveTooLargeError",
    "BackendUnavailableError",
    "DownloadError",
    "DownloadProgress",
    "ModelStorage",
    "ProgressReporter",
    "RemoteBackend",
    "StorageError",
    "StorageNotFoundError",
    "StorageSettings",
    "UnsupportedURIError",
    "default_cache_dir",
    "log_progress",
]
