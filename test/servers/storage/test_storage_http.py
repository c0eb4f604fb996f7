"""http(s):// URIs against a real local HTTP server: files, archives, errors, cache, progress."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from storage_support import MODEL_BYTES, FileServer

from zeroserve.servers.storage import (
    ArchiveEscapeError,
    DownloadError,
    DownloadProgress,
    ModelStorage,
    StorageNotFoundError,
    StorageSettings,
)


def test_single_file_lands_in_the_cache(file_server: FileServer, settings: StorageSettings) -> None:
    uri = f"{file_server.url}/models/model.joblib"
    path = ModelStorage(settings).resolve(uri)
    assert path.parent == settings.cache_dir
    assert [p.name for p in path.iterdir()] == ["model.joblib"]
    assert (path / "model.joblib").read_bytes() == MODEL_BYTES


@pytest.mark.parametrize("name", ["model.tar.gz", "model.zip"])
def test_archive_is_extracted(file_server: FileServer, settings: StorageSettings, name: str) -> None:
    path = ModelStorage(settings).resolve(f"{file_server.url}/models/{name}")
    assert sorted(str(p.relative_to(path)) for p in path.rglob("*")) == [
        "model.joblib",
        "sub",
        "sub/extra.txt",
    ]
    assert (path / "model.joblib").read_bytes() == MODEL_BYTES


def test_cache_hit_makes_no_request(file_server: FileServer, settings: StorageSettings) -> None:
    uri = f"{file_server.url}/models/model.tar.gz?cache-test"
    storage = ModelStorage(settings)
    first = storage.resolve(uri)
    count = file_server.requests.count("/models/model.tar.gz?cache-test")
    assert count == 1
    second = ModelStorage(settings).resolve(uri)
    assert second == first
    assert file_server.requests.count("/models/model.tar.gz?cache-test") == 1


def test_missing_file_is_a_clear_error_and_leaves_no_cache_entry(
    file_server: FileServer, settings: StorageSettings
) -> None:
    uri = f"{file_server.url}/models/nope.joblib"
    with pytest.raises(StorageNotFoundError, match=r"GET .*/models/nope.joblib: 404"):
        ModelStorage(settings).resolve(uri)
    assert list(settings.cache_dir.iterdir()) == []


def test_escaping_archive_is_rejected(file_server: FileServer, settings: StorageSettings) -> None:
    with pytest.raises(ArchiveEscapeError, match=r"'\.\./evil\.txt' escapes"):
        ModelStorage(settings).resolve(f"{file_server.url}/models/escape.tar.gz")
    assert list(settings.cache_dir.iterdir()) == []
    assert not (settings.cache_dir.parent / "evil.txt").exists()


def test_progress_reports_bytes_total_and_percent(file_server: FileServer, settings: StorageSettings) -> None:
    events: list[DownloadProgress] = []
    uri = f"{file_server.url}/models/model.joblib"
    ModelStorage(settings, progress_sink=events.append).resolve(uri)
    assert events, "no progress reported"
    final = events[-1]
    assert final.done and final.uri == uri
    assert final.bytes == final.total == len(MODEL_BYTES)
    assert final.percent == 100.0


def test_progress_is_logged_as_structured_fields(
    file_server: FileServer, settings: StorageSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="zeroserve.servers.storage")
    ModelStorage(settings).resolve(f"{file_server.url}/models/model.zip")
    records = [r for r in caplog.records if hasattr(r, "percent")]
    assert records
    last = records[-1]
    size = len(file_server.files["/models/model.zip"])
    assert (last.__dict__["bytes"], last.__dict__["total"], last.__dict__["percent"]) == (size, size, 100.0)
    assert "100.0%" in last.getMessage()


def test_progress_interval_uses_the_injected_clock(settings: StorageSettings, tmp_path: Path) -> None:
    body = b"y" * (3 * (1 << 20) + 5)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-length": str(len(body))})

    ticks = iter([0.0, 0.5, 10.0, 10.1, 99.0])
    events: list[DownloadProgress] = []
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        storage = ModelStorage(
            settings.model_copy(update={"progress_interval_seconds": 5.0}),
            http_client=client,
            progress_sink=events.append,
            clock=lambda: next(ticks),
        )
        storage.download("https://models.example.com/big.bin", tmp_path / "out")
    # chunks at t=0 (reported), 0.5 (within the interval), 10.0 (reported), 10.1 (skipped), then done.
    assert [(e.bytes, e.done) for e in events] == [
        (1 << 20, False),
        (3 << 20, False),
        (len(body), True),
    ]
    assert (tmp_path / "out" / "big.bin").read_bytes() == body


def test_download_fills_a_destination_folder(
    file_server: FileServer, settings: StorageSettings, tmp_path: Path
) -> None:
    dest = tmp_path / "mnt" / "models"
    dest.mkdir(parents=True)
    ModelStorage(settings).download(f"{file_server.url}/models/model.tar.gz", dest)
    assert sorted(p.name for p in dest.iterdir()) == ["model.joblib", "sub"]
    assert not settings.cache_dir.exists()


def test_server_error_status_is_reported(settings: StorageSettings) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(403, text="denied"))
    with (
        httpx.Client(transport=transport) as client,
        pytest.raises(DownloadError, match=r"GET https://private\.example\.com/m\.bin: HTTP 403 Forbidden"),
    ):
        ModelStorage(settings, http_client=client).resolve("https://private.example.com/m.bin")


def test_settings_read_mirrors_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZEROSERVE_STORAGE_MIRRORS", json.dumps({"gs://bucket/": f"file://{tmp_path}"}))
    monkeypatch.setenv("ZEROSERVE_STORAGE_CACHE_DIR", str(tmp_path / "c"))
    settings = StorageSettings()
    assert settings.mirrors == {"gs://bucket/": tmp_path}
    assert settings.cache_dir == tmp_path / "c"
