"""Archive extraction refuses members that would escape the target folder, before writing anything."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from storage_support import make_tar_gz, make_zip

from zeroserve.servers.storage import ArchiveEscapeError, StorageError
from zeroserve.servers.storage.archive import archive_kind, extract_archive


def _tar_with(tmp_path: Path, *infos: tuple[tarfile.TarInfo, bytes]) -> Path:
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for info, data in infos:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, b""


def _file(name: str, data: bytes = b"ok") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


@pytest.fixture
def target(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([_file("../evil.txt")], r"member '\.\./evil\.txt' escapes the target folder"),
        ([_file("ok/../../evil.txt")], r"member 'ok/\.\./\.\./evil\.txt' escapes"),
        ([_file("/etc/evil.txt")], r"member '/etc/evil\.txt' has an absolute path"),
        ([_link("link", "../../outside")], r"link 'link' -> '\.\./\.\./outside' points outside the target"),
        ([_link("link", "/etc/passwd")], r"link 'link' points to the absolute path '/etc/passwd'"),
        ([_link("sub/hard", "../x", tarfile.LNKTYPE)], r"link 'sub/hard' -> '\.\./x' points outside"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-absolute", "hardlink-out"],
)
def test_tar_escapes_are_rejected(
    tmp_path: Path, target: Path, members: list[tuple[tarfile.TarInfo, bytes]], message: str
) -> None:
    archive = _tar_with(tmp_path, _file("model.joblib"), *members)
    with pytest.raises(ArchiveEscapeError, match=message):
        extract_archive(archive, target, "tar")
    assert list(target.iterdir()) == [], "nothing may be extracted from a rejected archive"


def test_tar_with_an_inner_symlink_is_fine(tmp_path: Path, target: Path) -> None:
    archive = _tar_with(tmp_path, _file("v1/model.joblib", b"m"), _link("current", "v1"))
    extract_archive(archive, target, "tar")
    assert (target / "current" / "model.joblib").read_bytes() == b"m"


def test_tar_device_file_is_rejected(tmp_path: Path, target: Path) -> None:
    info = tarfile.TarInfo("dev")
    info.type = tarfile.CHRTYPE
    with pytest.raises(ArchiveEscapeError, match="'dev' is a device or fifo"):
        extract_archive(_tar_with(tmp_path, (info, b"")), target, "tar")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil.txt", r"'\.\./evil\.txt' escapes the target folder"),
        ("/abs/evil.txt", r"'/abs/evil\.txt' has an absolute path"),
        ("C:/evil.txt", r"'C:/evil\.txt' has an absolute path"),
    ],
)
def test_zip_escapes_are_rejected(tmp_path: Path, target: Path, name: str, message: str) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"model.joblib": b"m", name: b"evil"}))
    with pytest.raises(ArchiveEscapeError, match=message):
        extract_archive(archive, target, "zip")
    assert list(target.iterdir()) == []


def test_zip_symlink_entry_is_rejected(tmp_path: Path, target: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveEscapeError, match="'link' is a symbolic link"):
        extract_archive(archive, target, "zip")


def test_corrupt_archive_is_a_storage_error(tmp_path: Path, target: Path) -> None:
    archive = tmp_path / "model.zip"
    archive.write_bytes(b"PK but not really")
    with pytest.raises(StorageError, match=r"model\.zip is not a valid zip archive"):
        extract_archive(archive, target, "zip")


def test_good_archives_extract(tmp_path: Path, target: Path) -> None:
    archive = tmp_path / "m.tgz"
    archive.write_bytes(make_tar_gz({"a/b.txt": b"b"}))
    extract_archive(archive, target, "tar")
    assert (target / "a" / "b.txt").read_bytes() == b"b"


@pytest.mark.parametrize(
    ("name", "ctype", "kind"),
    [
        ("m.tar.gz", None, "tar"),
        ("m.TGZ", None, "tar"),
        ("m.zip", None, "zip"),
        ("download", "application/zip", "zip"),
        ("download", "application/gzip; charset=binary", "tar"),
        ("model.joblib", "application/octet-stream", None),
    ],
)
def test_archive_kind(name: str, ctype: str | None, kind: str | None) -> None:
    assert archive_kind(name, ctype) == kind
