"""``gs://bucket/prefix`` downloads with google-cloud-storage (the optional ``gcs`` extra).

Without application credentials the client falls back to anonymous access, as KServe's
storage-initializer does, so public buckets such as ``gs://kfserving-examples`` work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zeroserve.servers.storage.errors import BackendUnavailableError, DownloadError
from zeroserve.servers.storage.objects import place_objects, unpack_single_file
from zeroserve.servers.storage.progress import DownloadProgress, ProgressReporter, log_progress
from zeroserve.servers.storage.settings import StorageSettings
from zeroserve.servers.storage.uri import split_bucket

__all__ = ["GCSBackend"]


class GCSBackend:
    """Downloads every blob under a GCS prefix (or the single blob it names).

    Args:
        settings: the anonymous-access option and the progress interval.
        client_factory: returns a ``google.cloud.storage.Client``; built from the settings when omitted.
        progress_sink: receives progress snapshots.
        clock: monotonic clock for the progress interval.
    """

    schemes: tuple[str, ...] = ("gs",)

    def __init__(
        self,
        settings: StorageSettings,
        *,
        client_factory: Callable[[], Any] | None = None,
        progress_sink: Callable[[DownloadProgress], None] = log_progress,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._factory = client_factory or self._default_client
        self._owns_clients = client_factory is None
        self._sink = progress_sink
        self._clock = clock

    def _default_client(self) -> Any:
        try:
            from google.auth.exceptions import DefaultCredentialsError
            from google.cloud import storage
        except ImportError as exc:
            raise BackendUnavailableError(
                "gs:// URIs need google-cloud-storage, which is not installed: pip install 'zeroserve[gcs]'"
            ) from exc
        if self._settings.gcs_anonymous:
            return storage.Client.create_anonymous_client()
        try:
            return storage.Client()
        except DefaultCredentialsError:
            return storage.Client.create_anonymous_client()

    def fetch(self, uri: str, target: Path) -> None:
        """Download the blobs of ``uri`` into the empty folder ``target``.

        Args:
            uri: ``gs://bucket/name-or-prefix``.
            target: an existing, empty folder.

        Raises:
            StorageNotFoundError: the prefix holds nothing.
            DownloadError: GCS refused or could not be reached.
        """
        bucket_name, prefix = split_bucket(uri)
        client = self._factory()
        try:
            blobs = {blob.name: blob for blob in client.list_blobs(bucket_name, prefix=prefix)}
            placed = place_objects(uri, prefix, [(n, b.size) for n, b in blobs.items()], target)
            progress = ProgressReporter(
                uri,
                sum(p.size or 0 for p in placed),
                sink=self._sink,
                interval=self._settings.progress_interval_seconds,
                clock=self._clock,
            )
            content_type = None
            for item in placed:
                item.path.parent.mkdir(parents=True, exist_ok=True)
                blob = blobs[item.key]
                blob.download_to_filename(str(item.path))
                content_type = blob.content_type
                progress.advance(item.path.stat().st_size)
            progress.finish()
        except Exception as exc:
            if type(exc).__module__.startswith(("google.", "requests.")):
                raise DownloadError(f"{uri}: {type(exc).__name__}: {exc}") from exc
            raise
        finally:
            if self._owns_clients and hasattr(client, "close"):
                client.close()
        unpack_single_file(placed, prefix, content_type)
