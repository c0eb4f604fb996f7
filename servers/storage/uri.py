"""Parsing of ``storageUri`` values: scheme, bucket / path, and the cache key of a URI."""

from __future__ import annotations

import hashlib
import re

from zeroserve.servers.storage.errors import UnsupportedURIError

__all__ = ["LOCAL_SCHEMES", "REMOTE_SCHEMES", "cache_key", "scheme_of", "split_bucket"]

LOCAL_SCHEMES = ("", "file", "pvc")
"""Schemes resolved to a local folder without copying: plain paths, ``file://`` and ``pvc://``."""
REMOTE_SCHEMES = ("http", "https", "s3", "gs")
"""Schemes downloaded into the model cache."""

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def scheme_of(uri: str) -> str:
    """The scheme of a storage URI, lower-cased; ``""`` for a plain path.

    Args:
        uri: a ``storageUri`` value.

    Returns:
        One of :data:`LOCAL_SCHEMES` or :data:`REMOTE_SCHEMES`.

    Raises:
        UnsupportedURIError: the URI is empty or its scheme is not supported.
    """
    if not uri or not uri.strip():
        raise UnsupportedURIError("storage URI is empty")
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower() if match else ""
    if scheme not in LOCAL_SCHEMES and scheme not in REMOTE_SCHEMES:
        supported = ", ".join(f"{s}://" for s in (*REMOTE_SCHEMES, "file", "pvc"))
        raise UnsupportedURIError(
            f"storage URI {uri!r}: scheme {scheme!r} is not supported (use a path, {supported})"
        )
    return scheme


def split_bucket(uri: str) -> tuple[str, str]:
    """Split ``scheme://bucket/some/prefix`` into ``("bucket", "some/prefix")``.

    Args:
        uri: an ``s3://``, ``gs://`` or ``pvc://`` URI.

    Returns:
        The bucket (or claim) and the key prefix without leading slash (possibly empty).

    Raises:
        UnsupportedURIError: the URI names no bucket.
    """
    rest = uri.split("://", 1)[1] if "://" in uri else uri
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise UnsupportedURIError(f"storage URI {uri!r} names no bucket (expected scheme://<bucket>/<path>)")
    return bucket, prefix.lstrip("/")


def cache_key(uri: str) -> str:
    """A folder name for ``uri`` in the model cache: readable tail plus a hash of the whole URI.

    Args:
        uri: the storage URI.

    Returns:
        e.g. ``model.tar.gz-3f2a9c1b0d4e5f60``: unique per URI, safe on any file system.
    """
    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    tail = uri.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    slug = _UNSAFE.sub("_", tail).strip("._")[:48]
    return f"{slug}-{digest}" if slug else digest
