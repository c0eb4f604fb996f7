"""Storage credentials: KServe's storage-config entries and ServiceAccount secrets become the
storage-initializer's environment; the initializer downloads from an S3 server that checks keys;
hf:// resolves from the local Hugging Face cache."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from credentials_support import BUCKET, PREFIX, SecuredS3

from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.controller.errors import BuildError
from zeroserve.controller.kinds import Kind
from zeroserve.controller.resources.storage_credentials import SECRET, SERVICE_ACCOUNT, storage_access
from zeroserve.local.engine.volumes import resolve_env
from zeroserve.servers.storage import ModelStorage, StorageNotFoundError
from zeroserve.servers.storage.credentials import (
    StorageConfigError,
    apply_storage_config,
    storage_config_env,
    storage_uri_for,
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_storage_config_entries_become_kserve_variables(tmp_path: Path) -> None:
    s3 = {"type": "s3", "access_key_id": "AK", "secret_access_key": "SK", "endpoint_url": "http://minio:9000"}
    env = storage_config_env({**s3, "region": "eu-west-1", "anonymous": False}, {"verify_ssl": "false"})
    assert env == {
        "AWS_ACCESS_KEY_ID": "AK",
        "AWS_SECRET_ACCESS_KEY": "SK",
        "AWS_ENDPOINT_URL": "http://minio:9000",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "awsAnonymousCredential": "0",
        "S3_VERIFY_SSL": "0",
    }
    account = {"type": "service_account", "project_id": "p"}
    gs = storage_config_env({"type": "gs", "base64_service_account": _b64(json.dumps(account))})
    assert json.loads(Path(gs["GOOGLE_APPLICATION_CREDENTIALS"]).read_text()) == account
    os.unlink(gs["GOOGLE_APPLICATION_CREDENTIALS"])
    azure = storage_config_env({"type": "azure", "client_id": "c", "access_key": "k"})
    assert azure == {"AZURE_CLIENT_ID": "c", "AZURE_STORAGE_ACCESS_KEY": "k"}
    environ = {"STORAGE_CONFIG": json.dumps(s3), "AWS_ENDPOINT_URL": "http://mine:1"}
    assert sorted(apply_storage_config(environ)) == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    assert environ["AWS_ENDPOINT_URL"] == "http://mine:1", "a variable already set wins"
    assert storage_uri_for({**s3, "bucket": "b"}, "/models/iris") == "s3://b/models/iris"
    with pytest.raises(StorageConfigError, match="has no bucket"):
        storage_uri_for(s3, "x")
    with pytest.raises(StorageConfigError, match="type 'ftp' is not one of"):
        apply_storage_config({"STORAGE_CONFIG": '{"type": "ftp"}'})


def _isvc(predictor: dict[str, Any]) -> InferenceService:
    doc = {"metadata": {"name": "iris", "namespace": "ml"}, "spec": {"predictor": predictor}}
    return default_inference_service(InferenceService.from_dict(doc))


def _getter(objects: dict[tuple[str, str], dict[str, Any]]) -> Any:
    def get(kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        assert namespace == "ml"
        return objects.get((kind.kind, name))

    return get


def _resolved(env: list[dict[str, Any]], objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str]:
    """The values the engine (or kubelet) gives the initializer for ``env``'s secretKeyRefs."""
    resolved = resolve_env({"env": env}, lambda kind, _ns, name: objects.get((kind, name)), "ml")
    return {e["name"]: e["value"] for e in resolved["env"]}


def test_controller_reads_the_storage_spec_and_service_account_secrets() -> None:
    entry = {"type": "s3", "access_key_id": "AK", "secret_access_key": "SK", "bucket": "models"}
    objects = {
        ("Secret", "storage-config"): {"data": {"local": _b64(json.dumps(entry))}},
        ("ServiceAccount", "loader"): {"secrets": [{"name": "s3creds"}, {"name": "gone"}]},
        ("Secret", "s3creds"): {
            "metadata": {
                "annotations": {
                    "serving.kserve.io/s3-endpoint": "minio.ml:9000",
                    "serving.kserve.io/s3-usehttps": "0",
                    "serving.kserve.io/s3-region": "us-east-2",
                }
            },
            "data": {"AWS_ACCESS_KEY_ID": _b64("SA-AK"), "AWS_SECRET_ACCESS_KEY": _b64("SA-SK")},
        },
    }
    model = {
        "modelFormat": {"name": "sklearn"},
        "storage": {"key": "local", "path": "iris", "parameters": {"region": "r"}},
    }
    access = storage_access(_isvc({"model": model}), _getter(objects))
    assert access.uri == "s3://models/iris"
    assert access.env[0] == {
        "name": "STORAGE_CONFIG",
        "valueFrom": {"secretKeyRef": {"name": "storage-config", "key": "local"}},
    }
    env = _resolved(access.env, objects)
    assert json.loads(env["STORAGE_CONFIG"]) == entry and json.loads(env["STORAGE_OVERRIDE_CONFIG"]) == {
        "region": "r"
    }
    account = storage_access(
        _isvc(
            {
                "serviceAccountName": "loader",
                "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://m/x"},
            }
        ),
        _getter(objects),
    )
    assert account.uri is None
    key_ref = {"secretKeyRef": {"name": "s3creds", "key": "AWS_SECRET_ACCESS_KEY"}}
    assert {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": key_ref} in account.env  # never the value
    assert _resolved(account.env, objects) == {
        "AWS_ACCESS_KEY_ID": "SA-AK",
        "AWS_SECRET_ACCESS_KEY": "SA-SK",
        "S3_ENDPOINT": "minio.ml:9000",
        "S3_USE_HTTPS": "0",
        "AWS_REGION": "us-east-2",
        "AWS_ENDPOINT_URL": "http://minio.ml:9000",
        "AWS_DEFAULT_REGION": "us-east-2",
    }
    gcs = {
        ("ServiceAccount", "default"): {"secrets": [{"name": "g"}, {"name": "s3creds"}]},
        ("Secret", "g"): {"data": {"gcloud-application-credentials.json": _b64("{}")}},
        ("Secret", "s3creds"): objects[("Secret", "s3creds")],
    }
    gs_model = {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/m"}}
    (only,) = storage_access(_isvc(gs_model), _getter(gcs)).env  # the S3 secret is not for gs://
    local = {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "file:///models/iris"}}
    assert storage_access(_isvc(local), _getter(gcs)).env == []
    assert json.loads(only["value"]) == {"type": "gs", "base64_service_account": _b64("{}")}


def test_controller_errors_name_the_field_and_what_would_work() -> None:
    entry = _b64(json.dumps({"type": "s3"}))
    spec = {"model": {"modelFormat": {"name": "sklearn"}, "storage": {"key": "nope", "path": "iris"}}}
    with pytest.raises(BuildError, match=r"secret ml/storage-config does not exist; create it"):
        storage_access(_isvc(spec), _getter({}))
    with pytest.raises(
        BuildError, match=r"storage\.key 'nope' is not in secret ml/storage-config \(keys: local\)"
    ):
        storage_access(_isvc(spec), _getter({("Secret", "storage-config"): {"data": {"local": entry}}}))
    spec["model"]["storage"]["key"] = "local"
    with pytest.raises(BuildError, match="the s3 entry has no bucket"):
        storage_access(_isvc(spec), _getter({("Secret", "storage-config"): {"data": {"local": entry}}}))
    with pytest.raises(BuildError, match=r"serviceAccountName: service account ml/ghost does not exist"):
        storage_access(
            _isvc(
                {
                    "serviceAccountName": "ghost",
                    "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://b/m"},
                }
            ),
            _getter({}),
        )
    assert SECRET.plural == "secrets" and SERVICE_ACCOUNT.plural == "serviceaccounts"


def _initializer(uri: str, dest: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "ZEROSERVE_STORAGE_"))}
    return subprocess.run(
        [sys.executable, "-m", "zeroserve", "storage-initializer", uri, str(dest)],
        env={**clean, **env, "ZEROSERVE_STORAGE_CACHE_DIR": str(dest.parent / "cache")},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_initializer_downloads_with_the_storage_config_and_refuses_wrong_keys(
    secured_s3: SecuredS3, tmp_path: Path
) -> None:
    entry = {"type": "s3", "access_key_id": secured_s3.key_id, "secret_access_key": secured_s3.secret}
    entry |= {"endpoint_url": secured_s3.url, "region": "us-east-1", "bucket": BUCKET}
    good = _initializer(f"s3://{BUCKET}/{PREFIX}", tmp_path / "good", {"STORAGE_CONFIG": json.dumps(entry)})
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "good" / "model.joblib").is_file()
    wrong = {**entry, "secret_access_key": "not-the-secret"}
    bad = _initializer(f"s3://{BUCKET}/{PREFIX}", tmp_path / "bad", {"STORAGE_CONFIG": json.dumps(wrong)})
    assert bad.returncode == 1
    assert (
        "SignatureDoesNotMatch" in bad.stderr
        or "InvalidAccessKeyId" in bad.stderr
        or "AccessDenied" in bad.stderr
    )


def test_hf_uris_resolve_from_the_local_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = tmp_path / "hub"
    repo = hub / "models--acme--tiny-bert"
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123\n")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    storage = ModelStorage()
    assert storage.resolve("hf://acme/tiny-bert") == repo / "snapshots" / "abc123"
    assert storage.resolve("hf://acme/tiny-bert:abc123") == repo / "snapshots" / "abc123"
    with pytest.raises(
        StorageNotFoundError, match=r"not in the Hugging Face cache.*huggingface-cli download acme/other"
    ):
        storage.resolve("hf://acme/other")
    with pytest.raises(StorageNotFoundError, match="revision v2 of acme/tiny-bert is not in the cache"):
        storage.resolve("hf://acme/tiny-bert:v2")


def test_storage_spec_without_key_uses_kserves_default_keys() -> None:
    entry = _b64(json.dumps({"type": "s3", "bucket": "b"}))
    secret = {("Secret", "storage-config"): {"data": {"default": entry, "default_s3": entry}}}
    plain = {"model": {"modelFormat": {"name": "sklearn"}, "storage": {"path": "m"}}}
    assert storage_access(_isvc(plain), _getter(secret)).uri == "s3://b/m"
    typed = {
        "model": {"modelFormat": {"name": "sklearn"}, "storage": {"path": "m", "parameters": {"type": "s3"}}}
    }
    env = {
        e["name"]: e.get("value") or e["valueFrom"] for e in storage_access(_isvc(typed), _getter(secret)).env
    }
    assert json.loads(env["STORAGE_OVERRIDE_CONFIG"]) == {"type": "s3"}
    assert env["STORAGE_CONFIG"] == {"secretKeyRef": {"name": "storage-config", "key": "default_s3"}}
