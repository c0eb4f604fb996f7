"""Placing the objects of a bucket prefix (S3, GCS) into a local folder.

Object stores have no folders: ``s3://b/models/iris`` may be a single object or the prefix of many.
The rules follow KServe's storage-initializer: a key equal to the prefix is a single file (kept under
its base name, unpacked when it is an archive); keys under ``prefix/`` keep their path below the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from zeroserve.servers.storage.archive import ArchiveLimits, archive_kind, extract_archive
from zeroserve.servers.storage.errors import ArchiveEscapeError, StorageNotFoundError

__all__ = ["PlacedObject", "place_objects", "unpack_single_file"]


@dataclass(frozen=True)
class PlacedObject:
    """One object to download and where it goes."""

    key: str
    """The object key in the bucket."""
    path: Path
    """The local file it is written to."""
    size: int | None
    """Its size in bytes when the listing said."""


def place_objects(
    uri: str, prefix: str, objects: list[tuple[str, int | None]], target: Path
) -> list[PlacedObject]:
    """Map listed objects to local files under ``target``.

    Args:
        uri: the URI being resolved (for error messages).
        prefix: the key prefix from the URI (may be empty for a whole bucket).
        objects: ``(key, size)`` pairs as listed with that prefix.
        target: the folder the files go into.

    Returns:
        One :class:`PlacedObject` per file; "folder" marker objects (keys ending in ``/``) are skipped.

    Raises:
        StorageNotFoundError: nothing lives at the prefix.
        ArchiveEscapeError: a key would land outside ``target``.
    """
    base = prefix.rstrip("/")
    placed: list[PlacedObject] = []
    for key, size in objects:
        if key.endswith("/"):
            continue
        if key == base:
            relative = PurePosixPath(PurePosixPath(key).name)
        elif not base:
            relative = PurePosixPath(key)
        elif key.startswith(base + "/"):
            relative = PurePosixPath(key[len(base) + 1 :])
        else:
            continue  # "models/iris2/x" listed for prefix "models/iris"
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ArchiveEscapeError(f"{uri}: object key {key!r} would be written outside the model folder")
        placed.append(PlacedObject(key=key, path=target.joinpath(*relative.parts), size=size))
    if not placed:
        raise StorageNotFoundError(f"{uri}: no objects found under this prefix")
    return placed


def unpack_single_file(
    placed: list[PlacedObject],
    prefix: str,
    content_type: str | None = None,
    limits: ArchiveLimits | None = None,
) -> None:
    """Unpack the download when the URI named exactly one archive object (``.../model.tar.gz``).

    Args:
        placed: what was downloaded.
        prefix: the key prefix from the URI.
        content_type: the object's content type, if known.
        limits: the archive extraction limits.
    """
    if len(placed) != 1 or placed[0].key != prefix.rstrip("/"):
        return
    file = placed[0].path
    kind = archive_kind(file.name, content_type)
    if kind is not None:
        extract_archive(file, file.parent, kind, limits=limits)
        file.unlink()
