"""The engine's ConfigMap / Secret volumes and env references (``zeroserve.local.engine.volumes``)."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest

from zeroserve.local.engine.volumes import (
    ContainerConfigError,
    mount_table,
    projections,
    resolve_env,
    rewrite_paths,
    sync_volumes,
)

VOLUMES = [
    {"name": "model-config", "configMap": {"name": "modelconfig-mms-0", "optional": True}},
    {"name": "creds", "secret": {"secretName": "s3", "items": [{"key": "key", "path": "aws/key"}]}},
    {"name": "scratch", "emptyDir": {}},
    {"name": "trained-models", "emptyDir": {}},
    {"name": "claim", "persistentVolumeClaim": {"claimName": "x"}},
]
CONTAINER = {
    "args": ["--model_config_file=/mnt/configs/models.json", "--models_dir=/mnt/models", "/mnt/configsx"],
    "env": [{"name": "KEY_FILE", "value": "/etc/creds/aws/key"}],
    "volumeMounts": [
        {"name": "model-config", "mountPath": "/mnt/configs"},
        {"name": "creds", "mountPath": "/etc/creds/"},
        {"name": "trained-models", "mountPath": "/mnt/models"},
    ],
}


class Api:
    """ConfigMaps and Secrets as the API server returns them (a stand-in at the network edge)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}

    def __call__(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        assert namespace == "default"
        return self.objects.get((kind, name))


def test_volumes_are_projected_rewritten_and_kept_in_sync(tmp_path: Path) -> None:
    api = Api()
    api.objects[("Secret", "s3")] = {"data": {"key": base64.b64encode(b"sekrit").decode()}}
    found = projections(VOLUMES, tmp_path)
    assert sorted(found) == ["creds", "model-config", "scratch", "trained-models"]
    assert sync_volumes(found, api, "default") == ["creds"]  # the optional ConfigMap is missing: empty
    assert (tmp_path / "creds" / "aws" / "key").read_bytes() == b"sekrit"
    container = rewrite_paths(CONTAINER, mount_table(CONTAINER, found))
    assert container["args"] == [
        f"--model_config_file={tmp_path}/model-config/models.json",
        "--models_dir=/mnt/models",  # the model folder is the image planner's
        "/mnt/configsx",
    ]
    assert container["env"] == [{"name": "KEY_FILE", "value": f"{tmp_path}/creds/aws/key"}]
    api.objects[("ConfigMap", "modelconfig-mms-0")] = {"data": {"models.json": "[]"}}
    assert sync_volumes(found, api, "default") == ["model-config"]
    assert sync_volumes(found, api, "default") == []  # unchanged: not rewritten
    api.objects[("ConfigMap", "modelconfig-mms-0")] = {"data": {"models.json": '[{"modelName": "a"}]'}}
    assert sync_volumes(found, api, "default") == ["model-config"]
    assert "modelName" in (tmp_path / "model-config" / "models.json").read_text()
    del api.objects[("Secret", "s3")]
    with pytest.raises(ContainerConfigError, match="secret 's3' not found in namespace 'default'"):
        sync_volumes(found, api, "default")


def test_projected_files_get_kubelets_modes_inside_a_folder_only_we_reach(tmp_path: Path) -> None:
    api = Api()
    api.objects[("Secret", "s3")] = {"data": {"key": "YQ==", "other": "Yg=="}}
    api.objects[("ConfigMap", "app")] = {"data": {"a.txt": "a", "b.txt": "b"}}
    volumes = [
        {"name": "plain", "configMap": {"name": "app"}},
        {"name": "narrow", "secret": {"secretName": "s3", "defaultMode": 0o400}},
        {
            "name": "picked",
            "secret": {
                "secretName": "s3",
                "defaultMode": 0o440,
                "items": [
                    {"key": "key", "path": "deep/key", "mode": 0o600},
                    {"key": "other", "path": "other"},
                ],
            },
        },
        {"name": "scratch", "emptyDir": {}},
    ]
    revision = tmp_path / "volumes" / "default" / "rev-00001"
    found = projections(volumes, revision)
    sync_volumes(found, api, "default")

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    # nobody else on the host gets past the revision's folder ...
    assert mode(revision) == 0o700
    # ... inside it a container that runs as another user reads what kubelet would let it read
    assert (mode(revision / "plain"), mode(revision / "plain" / "a.txt")) == (0o755, 0o644)
    assert mode(revision / "narrow" / "key") == 0o400
    assert (mode(revision / "picked" / "deep"), mode(revision / "picked" / "deep" / "key")) == (0o755, 0o600)
    assert mode(revision / "picked" / "other") == 0o440
    assert mode(revision / "scratch") == 0o777
    # a mode changed by hand is put back at the next sync, without rewriting the content
    (revision / "plain" / "a.txt").chmod(0o600)
    assert sync_volumes(found, api, "default") == []
    assert mode(revision / "plain" / "a.txt") == 0o644


def test_env_references_are_resolved_or_name_what_is_missing() -> None:
    api = Api()
    api.objects[("Secret", "storage")] = {"data": {"id": base64.b64encode(b"AKIA").decode()}}
    api.objects[("ConfigMap", "settings")] = {"data": {"REGION": "eu", "ENDPOINT": "http://s3"}}
    container = {
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "S3_"}],
        "env": [
            {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "storage", "key": "id"}}},
            {"name": "S3_REGION", "value": "us"},
            {"name": "GONE", "valueFrom": {"secretKeyRef": {"name": "x", "key": "y", "optional": True}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
    }
    env = resolve_env(container, api, "default")["env"]
    assert env[:3] == [
        {"name": "S3_REGION", "value": "eu"},
        {"name": "S3_ENDPOINT", "value": "http://s3"},
        {"name": "AWS_ACCESS_KEY_ID", "value": "AKIA"},
    ]
    assert [e["name"] for e in env[3:]] == ["S3_REGION", "POD"]  # env after envFrom wins
    bad = {"env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "storage", "key": "secret"}}}]}
    with pytest.raises(ContainerConfigError, match="env K: key 'secret' not in secret 'storage'"):
        resolve_env(bad, api, "default")
    bad = {"envFrom": [{"secretRef": {"name": "nope"}}]}
    with pytest.raises(ContainerConfigError, match="envFrom: secret 'nope' not found"):
        resolve_env(bad, api, "default")
