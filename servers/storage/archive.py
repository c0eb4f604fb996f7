"""Safe extraction of downloaded ``.tar`` / ``.tar.gz`` / ``.tgz`` / ``.zip`` archives.

Every member is checked before anything is written: absolute paths, ``..`` components, links that
point outside the target, device files and (in zips) symlink entries are refused with an
:class:`ArchiveEscapeError` naming the member, and nothing is extracted.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from zeroserve.servers.storage.errors import ArchiveEscapeError, StorageError

__all__ = ["archive_kind", "extract_archive"]

_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")
_ZIP_SUFFIXES = (".zip",)


def archive_kind(name: str, content_type: str | None = None) -> str | None:
    """Tell whether a downloaded file is an archive we unpack.

    Args:
        name: the file name (the last URL path segment or object key).
        content_type: the ``Content-Type`` the store sent, if any.

    Returns:
        ``"tar"``, ``"zip"`` or ``None`` for a plain file.
    """
    lower = name.lower()
    if lower.endswith(_TAR_SUFFIXES):
        return "tar"
    if lower.endswith(_ZIP_SUFFIXES):
        return "zip"
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype in ("application/zip", "application/x-zip-compressed"):
        return "zip"
    if ctype in ("application/x-tar", "application/gzip", "application/x-gzip", "application/x-gtar"):
        return "tar"
    return None


def _check_name(archive: str, member: str) -> PurePosixPath:
    posix = PurePosixPath(member)
    if posix.is_absolute() or PureWindowsPath(member).is_absolute() or PureWindowsPath(member).drive:
        raise ArchiveEscapeError(f"archive {archive}: member {member!r} has an absolute path")
    if ".." in posix.parts:
        raise ArchiveEscapeError(f"archive {archive}: member {member!r} escapes the target folder")
    return posix


def _inside(target: Path, relative: PurePosixPath) -> bool:
    resolved = (target / relative).resolve()
    root = target.resolve()
    return resolved == root or root in resolved.parents


def _check_tar(archive: str, tar: tarfile.TarFile, target: Path) -> list[tarfile.TarInfo]:
    members = tar.getmembers()
    for info in members:
        name = _check_name(archive, info.name)
        if info.issym() or info.islnk():
            link = PurePosixPath(info.linkname)
            if link.is_absolute():
                raise ArchiveEscapeError(
                    f"archive {archive}: link {info.name!r} points to the absolute path {info.linkname!r}"
                )
            # A symlink is relative to its own folder, a hard link to the archive root.
            base = name.parent if info.issym() else PurePosixPath()
            if not _inside(target, base / link):
                raise ArchiveEscapeError(
                    f"archive {archive}: link {info.name!r} -> {info.linkname!r} points outside the target"
                )
        elif not (info.isfile() or info.isdir()):
            raise ArchiveEscapeError(
                f"archive {archive}: member {info.name!r} is a device or fifo, which models never need"
            )
    return members


def _check_zip(archive: str, zf: zipfile.ZipFile) -> None:
    for info in zf.infolist():
        _check_name(archive, info.filename)
        mode = info.external_attr >> 16
        if mode and stat.S_ISLNK(mode):
            raise ArchiveEscapeError(f"archive {archive}: member {info.filename!r} is a symbolic link")


def extract_archive(archive: Path, target: Path, kind: str, label: str | None = None) -> None:
    """Unpack ``archive`` into ``target`` after checking every member.

    Args:
        archive: the downloaded archive file.
        target: an existing folder to extract into.
        kind: ``"tar"`` or ``"zip"`` (see :func:`archive_kind`).
        label: how messages name the archive (e.g. its URI); the file name when omitted.

    Raises:
        ArchiveEscapeError: a member would be written outside ``target``; nothing is extracted then.
        StorageError: the file is not a valid archive of that kind.
    """
    name = label or archive.name
    try:
        if kind == "tar":
            with tarfile.open(archive) as tar:
                members = _check_tar(name, tar, target)
                tar.extractall(target, members=members, filter="tar")
        elif kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                _check_zip(name, zf)
                zf.extractall(target)
        else:
            raise ValueError(f"unknown archive kind {kind!r}")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, tarfile.FilterError):
            raise ArchiveEscapeError(f"archive {name}: {exc}") from exc
        raise StorageError(f"{name} is not a valid {kind} archive: {exc}") from exc
