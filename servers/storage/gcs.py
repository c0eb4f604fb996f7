"""``gs://bucket/prefix`` downloads with google-cloud-storage (the optional ``gcs`` extra).

Without application credentials the client falls back to anonymous access, as KServe's
storage-initializer does, so public buckets such as ``gs://kfserving-examples`` work.
"""

from __future__ import annotations

from typing import Any

from zeroserve.servers.storage.buckets import BucketBackend, ListedObject
from zeroserve.servers.storage.errors import BackendUnavailableError, DownloadError
from zeroserve.servers.storage.objects import PlacedObject
from zeroserve.servers.storage.progress import ProgressReporter

__all__ = ["GCSBackend"]


class GCSBackend(BucketBackend):
    """Downloads every blob under a GCS prefix (or the single blob it names).

    Args:
        settings: the anonymous-access option and the progress interval.
        client_factory: returns a ``google.cloud.storage.Client``; built from the settings when omitted.
        progress_sink: receives progress snapshots.
        clock: monotonic clock for the progress interval.
    """

    schemes: tuple[str, ...] = ("gs",)

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

    def _list(self, client: Any, bucket: str, prefix: str) -> list[ListedObject]:
        return [(blob.name, blob.size, blob) for blob in client.list_blobs(bucket, prefix=prefix)]

    def _download(
        self, client: Any, bucket: str, item: PlacedObject, handle: Any, progress: ProgressReporter
    ) -> str | None:
        handle.download_to_filename(str(item.path))
        progress.advance(item.path.stat().st_size)
        content_type: str | None = handle.content_type
        return content_type

    def _translate(self, uri: str, exc: Exception) -> Exception | None:
        if type(exc).__module__.startswith(("google.", "requests.")):
            return DownloadError(f"{uri}: {type(exc).__name__}: {exc}")
        return None
