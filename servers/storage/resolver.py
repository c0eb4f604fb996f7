"""Resolving a ``storageUri`` to a local path: mirrors and local schemes first, then the model cache.

Remote URIs are downloaded into a fresh temporary folder inside the cache and renamed into place
only when complete, so the cache never holds half a model; a folder that exists is a cache hit.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

from zeroserve.servers.storage.azure import AzureBlobBackend, is_azure_blob
from zeroserve.servers.storage.gcs import GCSBackend
from zeroserve.servers.storage.hf import locate_hf
from zeroserve.servers.storage.http import HTTPBackend
from zeroserve.servers.storage.local import locate_local, locate_mirror
from zeroserve.servers.storage.progress import DownloadProgress, log_progress
from zeroserve.servers.storage.s3 import S3Backend
from zeroserve.servers.storage.settings import StorageSettings
from zeroserve.servers.storage.uri import cache_key, scheme_of

__all__ = ["ModelStorage", "RemoteBackend"]

_LOG = logging.getLogger(__name__)


class RemoteBackend(Protocol):
    """A store reached over the network; writes a URI's files into an empty local folder."""

    schemes: tuple[str, ...]

    def fetch(self, uri: str, target: Path) -> None: ...


class ModelStorage:
    """Turns storage URIs into local files.

    Args:
        settings: cache folder, mirrors, PVC root and backend options; read from the environment
            when omitted.
        http_client: client for ``http(s)://`` downloads (tests inject one); a fresh client per
            download when omitted.
        s3_client_factory: returns a boto3 S3 client; built from the settings when omitted.
        gcs_client_factory: returns a ``google.cloud.storage.Client``; built when omitted.
        progress_sink: receives download progress snapshots (structured log lines by default).
        clock: monotonic clock for the progress interval.
    """

    def __init__(
        self,
        settings: StorageSettings | None = None,
        *,
        http_client: httpx.Client | None = None,
        s3_client_factory: Callable[[], Any] | None = None,
        gcs_client_factory: Callable[[], Any] | None = None,
        progress_sink: Callable[[DownloadProgress], None] = log_progress,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings if settings is not None else StorageSettings()
        backends: list[RemoteBackend] = [
            HTTPBackend(self.settings, client=http_client, progress_sink=progress_sink, clock=clock),
            S3Backend(
                self.settings, client_factory=s3_client_factory, progress_sink=progress_sink, clock=clock
            ),
            GCSBackend(
                self.settings, client_factory=gcs_client_factory, progress_sink=progress_sink, clock=clock
            ),
        ]
        self._backends = {scheme: b for b in backends for scheme in b.schemes}
        self._azure = AzureBlobBackend(self.settings, progress_sink=progress_sink, clock=clock)

    def cache_path(self, uri: str) -> Path:
        """Where ``uri`` lives (or will live) in the model cache.

        Args:
            uri: a remote storage URI.

        Returns:
            ``<cache_dir>/<cache key of uri>``.
        """
        return self.settings.cache_dir / cache_key(uri)

    def _locate(self, uri: str) -> Path | None:
        if uri.startswith("hf://"):
            return locate_hf(uri)
        mirrored = locate_mirror(uri, self.settings)
        if mirrored is not None:
            _LOG.info("storage URI %s resolved by mirror to %s", uri, mirrored, extra={"uri": uri})
            return mirrored
        return locate_local(uri, self.settings)

    def _backend(self, uri: str) -> RemoteBackend:
        if is_azure_blob(uri):  # https://<account>.blob.core.windows.net/...: listed and signed
            return self._azure
        return self._backends[scheme_of(uri)]

    def resolve(self, uri: str) -> Path:
        """The local file or folder holding the model at ``uri``, downloading it on a cache miss.

        Args:
            uri: a path, ``file://``, ``pvc://``, ``http(s)://``, ``s3://`` or ``gs://`` URI.

        Returns:
            A local path: the file or folder itself for local URIs and mirrors, else the cache folder.

        Raises:
            StorageError: the URI is unsupported, missing, or its download failed (a subclass says which).
        """
        uri = uri.strip()
        local = self._locate(uri)
        if local is not None:
            return local
        cached = self.cache_path(uri)
        if cached.is_dir():
            _LOG.info("storage URI %s found in the model cache at %s", uri, cached, extra={"uri": uri})
            return cached
        backend = self._backend(uri)
        self.settings.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=self.settings.cache_dir))
        try:
            backend.fetch(uri, staging)
            try:
                os.rename(staging, cached)
            except OSError:
                if not cached.is_dir():
                    raise
                # Another process finished the same download first; keep theirs.
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _LOG.info("storage URI %s downloaded to %s", uri, cached, extra={"uri": uri})
        return cached

    def download(self, uri: str, dest: Path) -> Path:
        """Put the model at ``uri`` into the folder ``dest`` (what KServe's storage-initializer does).

        Remote URIs are downloaded straight into a staging folder inside ``dest`` and moved into place
        when complete (no cache copy); local URIs and mirrors are copied.

        Args:
            uri: any supported storage URI.
            dest: the folder to fill; created when missing, may already hold files.

        Returns:
            ``dest``.

        Raises:
            StorageError: the URI is unsupported, missing, or its download failed.
        """
        uri = uri.strip()
        dest.mkdir(parents=True, exist_ok=True)
        local = self._locate(uri)
        if local is not None:
            if local.is_dir():
                shutil.copytree(local, dest, dirs_exist_ok=True)
            else:
                shutil.copy2(local, dest / local.name)
            return dest
        backend = self._backend(uri)
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=dest))
        try:
            backend.fetch(uri, staging)
            for entry in staging.iterdir():
                target = dest / entry.name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                os.replace(entry, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _LOG.info("storage URI %s downloaded to %s", uri, dest, extra={"uri": uri})
        return dest
