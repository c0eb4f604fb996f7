"""SIGKILL the API server and start it again: objects, status, resourceVersions and watches survive."""

from __future__ import annotations

from pathlib import Path

import kubernetes
import pytest
from kubernetes.client import CoreV1Api, CustomObjectsApi

from zeroserve.local.testing import apiserver_process, platform_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"


def _isvc(name: str) -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/m"}}},
    }


def test_state_and_watches_survive_sigkill(tmp_path: Path) -> None:
    with apiserver_process(tmp_path / "state") as server:
        client = server.api_client()
        api = CustomObjectsApi(client)
        api.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, _isvc("durable"))
        status = {"status": {"url": "http://durable.default.example.com"}}
        before = api.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", PLURAL, "durable", status
        )
        mark = before["metadata"]["resourceVersion"]
        CoreV1Api(client).create_namespaced_config_map("default", {"metadata": {"name": "after-mark"}})
        client.close()

        server.restart()

        client = server.api_client()
        try:
            api = CustomObjectsApi(client)
            after = api.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "durable")
            core = CoreV1Api(client)
            core.patch_namespaced_config_map("after-mark", "default", {"data": {"k": "v"}})
            seen = []
            watch = kubernetes.watch.Watch()
            for event in watch.stream(
                core.list_namespaced_config_map, "default", resource_version=mark, timeout_seconds=10
            ):
                seen.append((event["type"], event["object"].metadata.name))
                if len(seen) == 2:
                    watch.stop()
            new = core.create_namespaced_config_map("default", {"metadata": {"name": "fresh"}})
        finally:
            client.close()

    assert after == before, "object, status and resourceVersion are back unchanged"
    assert seen == [("ADDED", "after-mark"), ("MODIFIED", "after-mark")]
    assert int(new.metadata.resource_version) > int(mark)


def test_platform_process_helper_runs_up(tmp_path: Path) -> None:
    with platform_process(tmp_path / "state", components=[]) as platform:
        listed = platform.kubectl("get", "crd", "-o", "name").stdout.split()
        info = dict(platform.info)
    assert "customresourcedefinition.apiextensions.k8s.io/inferenceservices.serving.kserve.io" in listed
    assert info["components"] == ["apiserver"]
    assert platform.process.returncode == 0, "SIGTERM stops the platform cleanly"
