"""Garbage collection whatever the timing: children created after (or while) their owner is deleted,
and orphans left in the database before a restart."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from support.waiting import wait_until

from zeroserve.apis.crds import all_crds
from zeroserve.local.apiserver import ApiServerSettings, run_in_thread
from zeroserve.local.apiserver.registry import Registry
from zeroserve.local.apiserver.storage import Storage
from zeroserve.local.apiserver.watch import WatchHub
from zeroserve.local.apiserver.writes import create_object

_names = (f"gc-{i}" for i in itertools.count())
ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")


def _isvc(name: str, finalizers: list[str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "finalizers": finalizers or []},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/m"}}},
    }


def _child(name: str, owner: dict[str, Any]) -> dict[str, Any]:
    ref = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {"metadata": {"name": name, "ownerReferences": [ref]}, "data": {}}


def _gone(core: CoreV1Api, name: str) -> bool:
    try:
        core.read_namespaced_config_map(name, "default")
    except ApiException as exc:
        return exc.status == 404
    return False


def test_a_child_created_after_its_owner_was_deleted_is_collected(client: ApiClient) -> None:
    api, core = CustomObjectsApi(client), CoreV1Api(client)
    owner = api.create_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], _isvc(next(_names)))
    api.delete_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], owner["metadata"]["name"])
    late = next(_names)

    core.create_namespaced_config_map("default", _child(late, owner))  # a controller's stale cache

    wait_until(
        lambda: _gone(core, late), 10, what="the late child to be collected", interval=0.02, retry_on=()
    )


def test_a_child_created_while_its_owner_is_being_deleted_goes_with_it(client: ApiClient) -> None:
    api, core = CustomObjectsApi(client), CoreV1Api(client)
    name = next(_names)
    owner = api.create_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], _isvc(name, ["test/hold"]))
    api.delete_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], name)
    held = next(_names)

    core.create_namespaced_config_map("default", _child(held, owner))
    assert not _gone(core, held), "as in Kubernetes, a child waits while its owner's finalizers run"
    release = {"metadata": {"finalizers": None}}
    api.patch_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], name, release)

    wait_until(
        lambda: _gone(core, held), 10, what="the child to go once its owner has", interval=0.02, retry_on=()
    )


def test_orphans_stored_before_a_restart_are_collected_on_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with run_in_thread(ApiServerSettings(port=0, state_dir=state), crds=all_crds()):
        pass
    storage = Storage(state / "apiserver" / "state.db")  # as a server without the fix left it
    registry = Registry(storage, WatchHub())
    isvc_type = registry.resolve(*ISVC)
    cm_type = registry.resolve("", "v1", "configmaps")
    owner, _ = create_object(registry, isvc_type, "v1beta1", "default", _isvc("old-owner"))
    create_object(registry, cm_type, "v1", "default", _child("orphan", owner))
    create_object(registry, cm_type, "v1", "default", _child("kept", owner))
    registry.commit(isvc_type, "DELETED", dict(owner), owner)
    replacement, _ = create_object(registry, isvc_type, "v1beta1", "default", _isvc("old-owner"))
    create_object(registry, cm_type, "v1", "default", _child("new-child", replacement))
    storage.close()

    with run_in_thread(ApiServerSettings(port=0, state_dir=state), crds=all_crds()) as server:
        registry_names = _configmaps(server)

    assert "orphan" not in registry_names and "kept" not in registry_names
    assert "new-child" in registry_names, "a child of the same name's new owner (new uid) stays"


def _configmaps(server: Any) -> set[str]:
    from zeroserve.local.kubeconfig import write_kubeconfig
    from zeroserve.local.testing import Kubectl

    folder = server.settings.state_dir
    config = write_kubeconfig(folder / "kubeconfig", server.url, server.token, ca_cert=server.ca_cert)
    listed = Kubectl(config, folder / "cache").json("get", "configmaps", "-n", "default")
    return {item["metadata"]["name"] for item in listed["items"]}
