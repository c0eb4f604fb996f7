"""Errors raised while resolving a ``storageUri``; every one names the URI or file it is about."""

from __future__ import annotations

__all__ = [
    "ArchiveEscapeError",
    "ArchiveTooLargeError",
    "BackendUnavailableError",
    "DownloadError",
    "StorageError",
    "StorageNotFoundError",
    "UnsupportedURIError",
]


class StorageError(Exception):
    """Base of every storage error."""


class UnsupportedURIError(StorageError):
    """The URI's scheme is not one we can resolve, or the URI is malformed."""


class StorageNotFoundError(StorageError):
    """The URI points at nothing: a missing path, an empty bucket prefix, an HTTP 404."""


class DownloadError(StorageError):
    """A remote store answered with an error or the transfer broke off."""


class BackendUnavailableError(StorageError):
    """The library a scheme needs (boto3, google-cloud-storage) is not installed."""


class ArchiveEscapeError(StorageError):
    """An archive member would land outside the extraction folder (``../``, absolute path, link)."""


class ArchiveTooLargeError(StorageError):
    """An archive would expand past a limit (size ratio, total bytes, entry count); nothing is kept."""
