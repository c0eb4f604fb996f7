"""What every object-store backend (``s3://``, ``gs://``) does the same way.

A download lists the objects under the URI's prefix, places them under the target folder (refusing
keys that would escape it), fetches each with progress, and unpacks a lone archive. A backend says
only how to build its client, list a prefix, fetch one object, and which of its errors mean "not
found" or "could not download".
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zeroserve.servers.storage.objects import PlacedObject, place_objects, unpack_single_file
from zeroserve.servers.storage.progress import DownloadProgress, ProgressReporter, log_progress
from zeroserve.servers.storage.settings import StorageSettings
from zeroserve.servers.storage.uri import split_bucket

__all__ = ["BucketBackend", "ListedObject"]

ListedObject = tuple[str, int | None, Any]
"""An object under a prefix: its key, its size when known, and the backend's handle for fetching it."""


class BucketBackend(abc.ABC):
    """Downloads every object under a bucket prefix (or the single object it names).

    Args:
        settings: the storage settings (endpoints, anonymous access, progress interval).
        client_factory: returns the backend's client; built from the settings when omitted.
        progress_sink: receives progress snapshots.
        clock: monotonic clock for the progress interval.
    """

    schemes: tuple[str, ...] = ()

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

    @abc.abstractmethod
    def _default_client(self) -> Any:
        """A client built from the settings (raises BackendUnavailableError without the library)."""

    @abc.abstractmethod
    def _list(self, client: Any, bucket: str, prefix: str) -> list[ListedObject]:
        """Every object whose key starts with ``prefix``."""

    @abc.abstractmethod
    def _download(
        self, client: Any, bucket: str, item: PlacedObject, handle: Any, progress: ProgressReporter
    ) -> str | None:
        """Write the object to ``item.path``, advancing ``progress``; returns its content type."""

    @abc.abstractmethod
    def _translate(self, uri: str, exc: Exception) -> Exception | None:
        """The storage error to raise for the backend's own error, or ``None`` to let it through."""

    def fetch(self, uri: str, target: Path) -> None:
        """Download the objects of ``uri`` into the empty folder ``target``.

        Args:
            uri: ``<scheme>://bucket/key-or-prefix``.
            target: an existing, empty folder.

        Raises:
            StorageNotFoundError: the bucket or the prefix holds nothing.
            DownloadError: the store refused (credentials, permissions) or could not be reached.
        """
        bucket, prefix = split_bucket(uri)
        client = self._factory()
        try:
            listed = self._list(client, bucket, prefix)
            handles = {key: handle for key, _, handle in listed}
            placed = place_objects(uri, prefix, [(key, size) for key, size, _ in listed], target)
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
                content_type = self._download(client, bucket, item, handles[item.key], progress)
            progress.finish()
        except Exception as exc:
            mapped = self._translate(uri, exc)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            if self._owns_clients and hasattr(client, "close"):
                client.close()
        unpack_single_file(placed, prefix, content_type, self._settings.archive_limits())
