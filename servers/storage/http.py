"""``http://`` and ``https://`` downloads: one file, unpacked when it is a ``.tar.gz`` / ``.tgz`` / ``.zip``.

The :class:`httpx.Client` is injectable, so tests can point the backend at a real local server or at
an ``httpx.MockTransport``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from zeroserve.servers.storage.archive import archive_kind, extract_archive
from zeroserve.servers.storage.errors import DownloadError, StorageNotFoundError
from zeroserve.servers.storage.progress import DownloadProgress, ProgressReporter, log_progress
from zeroserve.servers.storage.settings import StorageSettings

__all__ = ["HTTPBackend"]

_CHUNK = 1 << 20


def _file_name(uri: str) -> str:
    name = unquote(urlsplit(uri).path.rstrip("/").rsplit("/", 1)[-1])
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        return "model"
    return name


class HTTPBackend:
    """Downloads a URL into a folder.

    Args:
        settings: timeouts and extra headers.
        client: the HTTP client to use; one is created (and closed) per download when omitted.
        progress_sink: receives progress snapshots.
        clock: monotonic clock for the progress interval.
    """

    schemes: tuple[str, ...] = ("http", "https")

    def __init__(
        self,
        settings: StorageSettings,
        *,
        client: httpx.Client | None = None,
        progress_sink: Callable[[DownloadProgress], None] = log_progress,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._client = client
        self._sink = progress_sink
        self._clock = clock

    def fetch(self, uri: str, target: Path) -> None:
        """Download ``uri`` into the empty folder ``target``, unpacking archives.

        Args:
            uri: an ``http(s)://`` URL.
            target: an existing, empty folder.

        Raises:
            StorageNotFoundError: the server answered 404.
            DownloadError: any other error status or a broken transfer.
        """
        if self._client is not None:
            self._fetch(self._client, uri, target)
            return
        timeout = httpx.Timeout(self._settings.http_timeout_seconds)
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            self._fetch(client, uri, target)

    def _fetch(self, client: httpx.Client, uri: str, target: Path) -> None:
        name = _file_name(uri)
        file = target / f".download-{name}"
        try:
            with client.stream(
                "GET", uri, headers=self._settings.http_headers, follow_redirects=True
            ) as resp:
                if resp.status_code == 404:
                    raise StorageNotFoundError(f"GET {uri}: 404 Not Found")
                if resp.status_code >= 400:
                    raise DownloadError(f"GET {uri}: HTTP {resp.status_code} {resp.reason_phrase}")
                length = resp.headers.get("content-length")
                encoded = resp.headers.get("content-encoding", "identity") != "identity"
                total = int(length) if length and length.isdigit() and not encoded else None
                content_type = resp.headers.get("content-type")
                progress = ProgressReporter(
                    uri,
                    total,
                    sink=self._sink,
                    interval=self._settings.progress_interval_seconds,
                    clock=self._clock,
                )
                with file.open("wb") as out:
                    for chunk in resp.iter_bytes(_CHUNK):
                        out.write(chunk)
                        progress.advance(len(chunk))
                progress.finish()
        except httpx.HTTPError as exc:
            raise DownloadError(f"GET {uri}: {type(exc).__name__}: {exc}") from exc
        if total is not None and progress.received != total:
            raise DownloadError(f"GET {uri}: received {progress.received} of {total} bytes")
        kind = archive_kind(name, content_type)
        if kind is None:
            file.rename(target / name)
            return
        extract_archive(file, target, kind, label=uri, limits=self._settings.archive_limits())
        file.unlink()
