"""Local URIs (plain paths, ``file://``, ``pvc://``), mirrors and bad URIs."""

from __future__ import annotations

from pathlib import Path

import pytest

from zeroserve.servers.storage import (
    BackendUnavailableError,
    ModelStorage,
    StorageNotFoundError,
    StorageSettings,
    UnsupportedURIError,
)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "iris"
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(b"m")
    return folder


def test_plain_path_and_file_uri_resolve_in_place(model_dir: Path, settings: StorageSettings) -> None:
    storage = ModelStorage(settings)
    assert storage.resolve(str(model_dir)) == model_dir
    assert storage.resolve(f"file://{model_dir}") == model_dir
    assert storage.resolve(f"file://{model_dir}/model.joblib") == model_dir / "model.joblib"
    assert not settings.cache_dir.exists(), "local URIs are never copied into the cache"


def test_missing_local_path_names_it(tmp_path: Path, settings: StorageSettings) -> None:
    with pytest.raises(StorageNotFoundError, match=f"path {tmp_path}/nope does not exist"):
        ModelStorage(settings).resolve(f"file://{tmp_path}/nope")


def test_pvc_resolves_under_the_configured_root(model_dir: Path, settings: StorageSettings) -> None:
    storage = ModelStorage(settings.model_copy(update={"pvc_root": model_dir.parent.parent}))
    assert storage.resolve("pvc://models/iris") == model_dir
    with pytest.raises(StorageNotFoundError, match=r"claim 'models' path .*/models/other does not exist"):
        storage.resolve("pvc://models/other")
    with pytest.raises(UnsupportedURIError, match=r"'\.\.' is not allowed"):
        storage.resolve("pvc://models/../../etc")


def test_pvc_without_a_root_is_refused(settings: StorageSettings) -> None:
    with pytest.raises(
        UnsupportedURIError, match="pvc:// needs a local root folder; set ZEROSERVE_STORAGE_PVC_ROOT"
    ):
        ModelStorage(settings).resolve("pvc://claim/model")


def test_mirror_resolves_a_remote_uri_offline(model_dir: Path, settings: StorageSettings) -> None:
    mirrors = {
        "gs://kfserving-examples/": model_dir.parent.parent,
        "gs://kfserving-examples/models/sklearn/": model_dir,
    }
    storage = ModelStorage(settings.model_copy(update={"mirrors": mirrors}))
    # The longest matching prefix wins.
    assert storage.resolve("gs://kfserving-examples/models/sklearn/") == model_dir
    assert storage.resolve("gs://kfserving-examples/models/iris") == model_dir
    assert storage.resolve("gs://kfserving-examples/models/iris/model.joblib") == model_dir / "model.joblib"
    with pytest.raises(StorageNotFoundError, match="mirror of 'gs://kfserving-examples/'"):
        storage.resolve("gs://kfserving-examples/models/xgboost")
    assert not settings.cache_dir.exists()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "storage URI is empty"),
        ("hdfs://cluster/models", "scheme 'hdfs' is not supported"),
        ("s3:///no-bucket", "names no bucket"),
    ],
)
def test_bad_uris_are_clear_errors(settings: StorageSettings, uri: str, message: str) -> None:
    with pytest.raises(UnsupportedURIError, match=message):
        ModelStorage(settings).resolve(uri)


def test_download_copies_local_uris(model_dir: Path, settings: StorageSettings, tmp_path: Path) -> None:
    dest = tmp_path / "mnt"
    storage = ModelStorage(settings)
    storage.download(str(model_dir), dest)
    assert (dest / "model.joblib").read_bytes() == b"m"
    single = tmp_path / "single"
    storage.download(f"file://{model_dir}/model.joblib", single)
    assert [p.name for p in single.iterdir()] == ["model.joblib"]


def test_gcs_without_the_library_says_how_to_install(settings: StorageSettings) -> None:
    try:
        import google.cloud.storage  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("google-cloud-storage is installed; this checks the error shown without it")
    with pytest.raises(BackendUnavailableError, match=r"pip install 'zeroserve\[gcs\]'"):
        ModelStorage(settings).resolve("gs://kfserving-examples/models/sklearn/1.0/model")


def test_mirror_settings_reject_non_uri_prefixes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mirror prefix 'models/' is not a URI prefix"):
        StorageSettings(cache_dir=tmp_path, mirrors={"models/": tmp_path})
