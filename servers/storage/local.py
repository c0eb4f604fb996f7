"""URIs that resolve to a local folder without any download: plain paths, ``file://``, ``pvc://``, mirrors."""

from __future__ import annotations

from pathlib import Path

from zeroserve.servers.storage.errors import StorageNotFoundError, UnsupportedURIError
from zeroserve.servers.storage.settings import StorageSettings
from zeroserve.servers.storage.uri import scheme_of, split_bucket

__all__ = ["locate_local", "locate_mirror"]


def _existing(uri: str, path: Path, what: str) -> Path:
    if not path.exists():
        raise StorageNotFoundError(f"storage URI {uri!r}: {what} {path} does not exist")
    return path


def locate_mirror(uri: str, settings: StorageSettings) -> Path | None:
    """The mirrored local path of ``uri``, when a configured mirror prefix matches it.

    Args:
        uri: any storage URI.
        settings: holds the ``mirrors`` table.

    Returns:
        The local file or folder, or ``None`` when no prefix matches.

    Raises:
        StorageNotFoundError: a mirror matches but the mirrored path does not exist.
    """
    matches = [prefix for prefix in settings.mirrors if uri.startswith(prefix)]
    if not matches:
        return None
    prefix = max(matches, key=len)
    rest = uri[len(prefix) :].strip("/")
    root = settings.mirrors[prefix]
    path = root.joinpath(*[part for part in rest.split("/") if part]) if rest else root
    if ".." in Path(rest).parts:
        raise UnsupportedURIError(f"storage URI {uri!r}: '..' is not allowed below the mirror {prefix!r}")
    return _existing(uri, path, f"mirror of {prefix!r}:")


def locate_local(uri: str, settings: StorageSettings) -> Path | None:
    """The local path of a plain path, ``file://`` or ``pvc://`` URI.

    Args:
        uri: any storage URI.
        settings: holds the ``pvc_root``.

    Returns:
        The existing file or folder, or ``None`` when the URI is remote.

    Raises:
        StorageNotFoundError: the path does not exist.
        UnsupportedURIError: a ``pvc://`` URI while no ``pvc_root`` is configured.
    """
    scheme = scheme_of(uri)
    if scheme == "":
        return _existing(uri, Path(uri).expanduser(), "path")
    if scheme == "file":
        return _existing(uri, Path(uri[len("file://") :]), "path")
    if scheme == "pvc":
        claim, rest = split_bucket(uri)
        if settings.pvc_root is None:
            raise UnsupportedURIError(
                f"storage URI {uri!r}: pvc:// needs a local root folder; set ZEROSERVE_STORAGE_PVC_ROOT"
            )
        if ".." in Path(rest).parts or claim == "..":
            raise UnsupportedURIError(f"storage URI {uri!r}: '..' is not allowed in a pvc:// path")
        return _existing(uri, settings.pvc_root / claim / rest, f"claim {claim!r} path")
    return None
