"""gs:// URIs through the GCS backend, with a stand-in for the google-cloud-storage client (an external edge:
the library is an optional extra and the tests run offline)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from storage_support import MODEL_BYTES, make_zip

from zeroserve.servers.storage import DownloadProgress, ModelStorage, StorageNotFoundError, StorageSettings


@dataclass
class _Blob:
    name: str
    data: bytes
    content_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def download_to_filename(self, filename: str) -> None:
        Path(filename).write_bytes(self.data)


@dataclass
class _Client:
    """Answers ``list_blobs`` like google.cloud.storage.Client and records each listing."""

    blobs: dict[str, list[_Blob]]
    listings: list[tuple[str, str]] = field(default_factory=list)

    def list_blobs(self, bucket: str, prefix: str = "") -> list[_Blob]:
        self.listings.append((bucket, prefix))
        return [b for b in self.blobs.get(bucket, []) if b.name.startswith(prefix)]


@pytest.fixture
def client() -> _Client:
    return _Client(
        {
            "kfserving-examples": [
                _Blob("models/sklearn/1.0/model/model.joblib", MODEL_BYTES),
                _Blob("models/sklearn/1.0/model/", b""),
                _Blob("models/sklearn/1.0/model-other/model.joblib", b"other"),
                _Blob("archives/model.zip", make_zip({"model.joblib": MODEL_BYTES}), "application/zip"),
            ]
        }
    )


def test_prefix_download_and_cache_hit(client: _Client, settings: StorageSettings) -> None:
    events: list[DownloadProgress] = []
    storage = ModelStorage(settings, gcs_client_factory=lambda: client, progress_sink=events.append)
    uri = "gs://kfserving-examples/models/sklearn/1.0/model"
    path = storage.resolve(uri)
    assert sorted(p.name for p in path.iterdir()) == ["model.joblib"]
    assert (path / "model.joblib").read_bytes() == MODEL_BYTES
    assert events[-1].done and events[-1].bytes == events[-1].total == len(MODEL_BYTES)
    assert storage.resolve(uri) == path
    assert client.listings == [("kfserving-examples", "models/sklearn/1.0/model")]


def test_single_archive_blob_is_extracted(client: _Client, settings: StorageSettings) -> None:
    storage = ModelStorage(settings, gcs_client_factory=lambda: client)
    path = storage.resolve("gs://kfserving-examples/archives/model.zip")
    assert [p.name for p in path.iterdir()] == ["model.joblib"]


def test_empty_prefix_is_not_found(client: _Client, settings: StorageSettings) -> None:
    storage = ModelStorage(settings, gcs_client_factory=lambda: client)
    with pytest.raises(StorageNotFoundError, match="gs://kfserving-examples/nothing: no objects found"):
        storage.resolve("gs://kfserving-examples/nothing")
    assert list(settings.cache_dir.iterdir()) == []
