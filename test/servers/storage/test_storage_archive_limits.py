"""Archive extraction is capped by expansion ratio, total bytes and entry count, checked before
anything is written; a refused or broken archive leaves nothing in the target folder."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from storage_support import FileServer

from zeroserve.servers.storage import ArchiveTooLargeError, ModelStorage, StorageError, StorageSettings
from zeroserve.servers.storage.archive import ArchiveLimits, extract_archive

MIB = 1024 * 1024


@pytest.fixture
def target(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out


def _zeros_zip(path: Path, size: int, name: str = "zeros.bin") -> Path:
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open(name, "w") as out,
    ):
        block = bytes(MIB)
        for _ in range(size // MIB):
            out.write(block)
    return path


def _zeros_tar_gz(path: Path, size: int) -> Path:
    class Zeros(io.RawIOBase):
        def __init__(self, n: int) -> None:
            self.left = n

        def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
            n = min(len(buffer), self.left)
            buffer[:n] = bytes(n)
            self.left -= n
            return n

    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("zeros.bin")
        info.size = size
        tar.addfile(info, Zeros(size))
    return path


def _nothing_left(target: Path) -> None:
    assert list(target.iterdir()) == [], "nothing may be left of a refused archive"


def test_zip_bomb_is_refused_by_the_default_ratio(tmp_path: Path, target: Path) -> None:
    archive = _zeros_zip(tmp_path / "bomb.zip", 110 * MIB)  # past 100 MiB expanded, ~1000:1
    assert archive.stat().st_size < MIB
    with pytest.raises(ArchiveTooLargeError, match=r"more than the 100:1 allowed.*ARCHIVE_MAX_RATIO"):
        extract_archive(archive, target, "zip")
    _nothing_left(target)


def test_tar_gz_bomb_is_refused_by_the_ratio(tmp_path: Path, target: Path) -> None:
    archive = _zeros_tar_gz(tmp_path / "bomb.tar.gz", 8 * MIB)
    limits = ArchiveLimits(max_ratio=100, ratio_floor_bytes=MIB)
    with pytest.raises(ArchiveTooLargeError, match=r"would expand from .* to 8\.0 MiB"):
        extract_archive(archive, target, "tar", limits=limits)
    _nothing_left(target)


def test_small_compressible_archives_pass_under_the_floor(tmp_path: Path, target: Path) -> None:
    archive = _zeros_zip(tmp_path / "small.zip", 4 * MIB)
    extract_archive(archive, target, "zip")
    assert (target / "zeros.bin").stat().st_size == 4 * MIB
    assert [p.name for p in target.iterdir()] == ["zeros.bin"]  # no staging folder left behind


def test_too_many_entries_is_refused(tmp_path: Path, target: Path) -> None:
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(11):
            zf.writestr(f"f{i}.txt", b"x")
    with pytest.raises(ArchiveTooLargeError, match=r"has 11 members, more than the 10 allowed"):
        extract_archive(archive, target, "zip", limits=ArchiveLimits(max_entries=10))
    _nothing_left(target)


def test_total_bytes_cap_and_free_disk(tmp_path: Path, target: Path) -> None:
    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("model.joblib", b"m" * 2000)
    with pytest.raises(
        ArchiveTooLargeError, match=r"more than the 1000 B allowed \(ZEROSERVE_STORAGE_ARCHIVE_MAX_BYTES\)"
    ):
        extract_archive(archive, target, "zip", limits=ArchiveLimits(max_bytes=1000))
    with pytest.raises(ArchiveTooLargeError, match=r"free disk space less the margin"):
        extract_archive(archive, target, "zip", limits=ArchiveLimits(disk_margin_bytes=2**62))
    _nothing_left(target)


def test_a_broken_archive_leaves_nothing_half_written(tmp_path: Path, target: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("a.bin", "b.bin"):
            info = tarfile.TarInfo(name)
            info.size = 300_000
            tar.addfile(info, io.BytesIO(bytes(range(256)) * (300_000 // 256) + bytes(300_000 % 256)))
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(buf.getvalue()[: len(buf.getvalue()) * 3 // 4])
    with pytest.raises(StorageError):
        extract_archive(archive, target, "tar")
    _nothing_left(target)


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEROSERVE_STORAGE_ARCHIVE_MAX_ENTRIES", "5")
    monkeypatch.setenv("ZEROSERVE_STORAGE_ARCHIVE_MAX_RATIO", "20")
    monkeypatch.setenv("ZEROSERVE_STORAGE_ARCHIVE_MAX_BYTES", "123")
    limits = StorageSettings().archive_limits()
    assert (limits.max_entries, limits.max_ratio, limits.max_bytes) == (5, 20.0, 123)


def test_http_download_applies_the_settings_limits(file_server: FileServer, tmp_path: Path) -> None:
    settings = StorageSettings(cache_dir=tmp_path / "cache", archive_max_entries=1)
    dest = tmp_path / "dest"
    with pytest.raises(ArchiveTooLargeError, match=r"model\.zip has 2 members, more than the 1 allowed"):
        ModelStorage(settings).download(f"{file_server.url}/models/model.zip", dest)
    assert not list(tmp_path.rglob("model.joblib")), "nothing of the refused archive is kept"
