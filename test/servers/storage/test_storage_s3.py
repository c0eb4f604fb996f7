"""s3:// URIs against a real S3-compatible server (moto in server mode on loopback), through boto3."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest
from storage_support import MODEL_BYTES, make_tar_gz

from zeroserve.servers.storage import DownloadProgress, ModelStorage, StorageNotFoundError, StorageSettings


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials in the environment, where boto3's default chain finds them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "S3_ENDPOINT", "S3_USE_HTTPS", "awsAnonymousCredential"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def bucket(s3_endpoint: str, aws_env: None) -> str:
    """A fresh bucket holding a model folder, a nested folder, a sibling prefix and a tar.gz."""
    name = f"models-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="iris/model.joblib", Body=MODEL_BYTES, ACL="public-read")
    s3.put_object(Bucket=name, Key="iris/meta/info.json", Body=b"{}", ACL="public-read")
    s3.put_object(Bucket=name, Key="iris-v2/model.joblib", Body=b"other")
    s3.put_object(Bucket=name, Key="archives/iris.tar.gz", Body=make_tar_gz({"model.joblib": MODEL_BYTES}))
    return name


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_prefix_downloads_every_object_below_it(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    settings = StorageSettings(cache_dir=tmp_path / "cache", s3_endpoint_url=s3_endpoint)
    events: list[DownloadProgress] = []
    path = ModelStorage(settings, progress_sink=events.append).resolve(f"s3://{bucket}/iris")
    # "iris-v2/..." shares the string prefix but is not below the "iris" folder.
    assert _tree(path) == ["meta/info.json", "model.joblib"]
    assert (path / "model.joblib").read_bytes() == MODEL_BYTES
    assert events[-1].done and events[-1].bytes == events[-1].total == len(MODEL_BYTES) + 2


def test_single_archive_object_is_extracted(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    settings = StorageSettings(cache_dir=tmp_path / "cache", s3_endpoint_url=s3_endpoint)
    path = ModelStorage(settings).resolve(f"s3://{bucket}/archives/iris.tar.gz")
    assert _tree(path) == ["model.joblib"]


def test_kserve_endpoint_variables_and_cache_hit(
    s3_endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3_ENDPOINT", s3_endpoint.removeprefix("http://"))
    monkeypatch.setenv("S3_USE_HTTPS", "0")
    monkeypatch.setenv("ZEROSERVE_STORAGE_CACHE_DIR", str(tmp_path / "cache"))
    settings = StorageSettings()
    assert settings.resolved_s3_endpoint() == s3_endpoint
    uri = f"s3://{bucket}/iris/model.joblib"
    first = ModelStorage(settings).resolve(uri)
    assert _tree(first) == ["model.joblib"]
    # Remove the object: a second resolve must be served from the cache without asking S3.
    boto3.client("s3", endpoint_url=s3_endpoint).delete_object(Bucket=bucket, Key="iris/model.joblib")
    assert ModelStorage(settings).resolve(uri) == first


def test_anonymous_access_sends_no_credentials(
    s3_endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("awsAnonymousCredential", "true")
    settings = StorageSettings(cache_dir=tmp_path / "cache")
    assert settings.s3_anonymous and settings.s3_endpoint_url == s3_endpoint
    path = ModelStorage(settings).resolve(f"s3://{bucket}/iris")
    assert (path / "model.joblib").read_bytes() == MODEL_BYTES


def test_missing_prefix_and_bucket_are_not_found(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    settings = StorageSettings(cache_dir=tmp_path / "cache", s3_endpoint_url=s3_endpoint)
    storage = ModelStorage(settings)
    with pytest.raises(
        StorageNotFoundError, match=f"s3://{bucket}/nothing: no objects found under this prefix"
    ):
        storage.resolve(f"s3://{bucket}/nothing")
    with pytest.raises(StorageNotFoundError, match="NoSuchBucket"):
        storage.resolve("s3://no-such-bucket-here/model")
    assert [p.name for p in settings.cache_dir.iterdir()] == []


def test_storage_initializer_downloads_into_a_folder(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    settings = StorageSettings(cache_dir=tmp_path / "cache", s3_endpoint_url=s3_endpoint)
    dest = tmp_path / "mnt" / "models"
    ModelStorage(settings).download(f"s3://{bucket}/iris", dest)
    assert _tree(dest) == ["meta/info.json", "model.joblib"]
