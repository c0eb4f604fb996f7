"""Safe extraction of downloaded ``.tar`` / ``.tar.gz`` / ``.tgz`` / ``.zip`` archives.

Every member is checked before anything is written: absolute paths, ``..`` components, links that
point outside the target, device files and (in zips) symlink entries are refused with an
:class:`ArchiveEscapeError` naming the member, and nothing is extracted.

Sizes are checked first too (:class:`ArchiveLimits`): the expanded size against the archive's own
(a zip bomb), against a byte budget (the free disk by default) and the member count. A tar header
states each member's exact size and zipfile never writes more than a member's declared size, so the
sum of the declared sizes bounds what extraction writes. The archive is unpacked into a temporary
folder beside the target and moved into place only once all of it is out, so a failure (a limit, a
corrupt member, a full disk) leaves nothing half-written.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from zeroserve.servers.storage.errors import ArchiveEscapeError, ArchiveTooLargeError, StorageError

__all__ = ["ArchiveLimits", "archive_kind", "extract_archive"]


@dataclass(frozen=True)
class ArchiveLimits:
    """How far an archive may expand (see ``StorageSettings.archive_*`` for the settings)."""

    max_ratio: float = 100.0
    """Largest expanded size / archive size, once the expanded size passes ``ratio_floor_bytes``."""
    ratio_floor_bytes: int = 100 * 1024 * 1024
    """Expanded size below which the ratio is not checked."""
    max_bytes: int | None = None
    """Largest expanded size; ``None``: the free space of the target's disk minus the margin."""
    disk_margin_bytes: int = 256 * 1024 * 1024
    """Space kept free when ``max_bytes`` is ``None``."""
    max_entries: int = 10_000
    """Most members an archive may have."""

    def checker(self, label: str, archive_size: int, target: Path) -> Callable[[int, int], None]:
        """A check of the running totals of one archive, called as its members are read.

        Every limit only grows harder to meet as members are added, so a tar.gz bomb is refused at
        the header of its first huge member, before its data is decompressed.

        Args:
            label: how the message names the archive.
            archive_size: the archive file's size in bytes.
            target: the folder it would be extracted into (for the free disk space).

        Returns:
            ``check(expanded_bytes, entries)``, raising :class:`ArchiveTooLargeError` (the message
            names the limit and its setting) once a limit is passed.
        """
        if self.max_bytes is not None:
            budget, setting = self.max_bytes, "ZEROSERVE_STORAGE_ARCHIVE_MAX_BYTES"
        else:
            free = shutil.disk_usage(target).free
            budget, setting = max(free - self.disk_margin_bytes, 0), "free disk space less the margin"

        def check(expanded: int, entries: int) -> None:
            if entries > self.max_entries:
                raise ArchiveTooLargeError(
                    f"archive {label} has {entries} members, more than the {self.max_entries} allowed "
                    "(ZEROSERVE_STORAGE_ARCHIVE_MAX_ENTRIES)"
                )
            ratio = expanded / max(archive_size, 1)
            if expanded > self.ratio_floor_bytes and ratio > self.max_ratio:
                raise ArchiveTooLargeError(
                    f"archive {label} would expand from {_size(archive_size)} to {_size(expanded)} "
                    f"({ratio:.0f}:1), more than the {self.max_ratio:g}:1 allowed past "
                    f"{_size(self.ratio_floor_bytes)} (ZEROSERVE_STORAGE_ARCHIVE_MAX_RATIO)"
                )
            if expanded > budget:
                raise ArchiveTooLargeError(
                    f"archive {label} would expand to {_size(expanded)}, more than the {_size(budget)} "
                    f"allowed ({setting})"
                )

        return check


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


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


def _check_tar(
    archive: str, tar: tarfile.TarFile, target: Path, limit: Callable[[int, int], None]
) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    expanded = 0
    for info in tar:  # headers read one at a time: a limit stops the walk early
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
        members.append(info)
        if info.isfile():
            expanded += info.size
        limit(expanded, len(members))
    return members


def _check_zip(archive: str, zf: zipfile.ZipFile) -> None:
    for info in zf.infolist():
        _check_name(archive, info.filename)
        mode = info.external_attr >> 16
        if mode and stat.S_ISLNK(mode):
            raise ArchiveEscapeError(f"archive {archive}: member {info.filename!r} is a symbolic link")


def extract_archive(
    archive: Path, target: Path, kind: str, label: str | None = None, limits: ArchiveLimits | None = None
) -> None:
    """Unpack ``archive`` into ``target`` after checking every member and the sizes.

    Args:
        archive: the downloaded archive file.
        target: an existing folder to extract into.
        kind: ``"tar"`` or ``"zip"`` (see :func:`archive_kind`).
        label: how messages name the archive (e.g. its URI); the file name when omitted.
        limits: the size and count limits; the defaults when omitted.

    Raises:
        ArchiveEscapeError: a member would be written outside ``target``; nothing is extracted then.
        ArchiveTooLargeError: the archive passes a limit; nothing is extracted then.
        StorageError: the file is not a valid archive of that kind (nothing is left of it).
    """
    name = label or archive.name
    limits = limits or ArchiveLimits()
    size = archive.stat().st_size
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target))
    try:
        if kind == "tar":
            with tarfile.open(archive) as tar:
                members = _check_tar(name, tar, staging, limits.checker(name, size, target))
                tar.extractall(staging, members=members, filter="tar")
        elif kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                _check_zip(name, zf)
                infos = zf.infolist()  # the central directory: sizes known before any data is read
                limits.checker(name, size, target)(sum(i.file_size for i in infos), len(infos))
                zf.extractall(staging)
        else:
            raise ValueError(f"unknown archive kind {kind!r}")
        _move_into(staging, target)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, tarfile.FilterError):
            raise ArchiveEscapeError(f"archive {name}: {exc}") from exc
        raise StorageError(f"{name} is not a valid {kind} archive: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"archive {name}: extraction failed: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into(source: Path, target: Path) -> None:
    """Move every entry of ``source`` into ``target`` (renames; folders present in both are merged)."""
    for entry in os.scandir(source):
        dest = target / entry.name
        if entry.is_dir(follow_symlinks=False) and dest.is_dir() and not dest.is_symlink():
            _move_into(Path(entry.path), dest)
        else:
            os.replace(entry.path, dest)
