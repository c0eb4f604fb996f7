"""The ``kubernetes`` Python client against the API server: watches, concurrency, status, selectors,
finalizers, garbage collection and Lease-based leader election."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import kubernetes
import pytest
from kubernetes.client import ApiClient, CoordinationV1Api, CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from kubernetes.leaderelection import electionconfig
from kubernetes.leaderelection.leaderelection import LeaderElection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock
from support.waiting import wait_until

from zeroserve.local.apiserver import ApiServerSettings, run_in_thread
from zeroserve.local.kubeconfig import write_kubeconfig

from .conftest import Cluster

_names = (f"obj-{i}" for i in itertools.count())
ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")


def _isvc(name: str, **labels: str) -> dict:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "labels": labels},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/m"}}},
    }


def _configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def _gone(read) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``read`` answers 404 now; any other API error propagates."""
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


def test_watch_resumes_from_a_resource_version(client: ApiClient) -> None:
    core = CoreV1Api(client)
    name = next(_names)
    created = core.create_namespaced_config_map("default", _configmap(name, step="1"))
    since = created.metadata.resource_version
    core.patch_namespaced_config_map(name, "default", {"data": {"step": "2"}})
    core.patch_namespaced_config_map(name, "default", {"data": {"step": "3"}})

    seen = []
    watch = kubernetes.watch.Watch()
    for event in watch.stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=since,
        field_selector=f"metadata.name={name}",
        timeout_seconds=5,
    ):
        seen.append((event["type"], event["object"].data["step"]))
        if len(seen) == 2:
            watch.stop()

    assert seen == [("MODIFIED", "2"), ("MODIFIED", "3")]


def test_watch_without_version_starts_with_current_state_then_streams(client: ApiClient) -> None:
    core = CoreV1Api(client)
    name = next(_names)
    core.create_namespaced_config_map("default", _configmap(name, step="1"))
    watch = kubernetes.watch.Watch()
    seen = []
    for event in watch.stream(
        core.list_namespaced_config_map, "default", field_selector=f"metadata.name={name}", timeout_seconds=5
    ):
        seen.append(event["type"])
        if event["type"] == "ADDED":
            core.delete_namespaced_config_map(name, "default")
        if event["type"] == "DELETED":
            watch.stop()
    assert seen == ["ADDED", "DELETED"]


def test_stale_update_is_a_conflict(client: ApiClient) -> None:
    core = CoreV1Api(client)
    name = next(_names)
    stale = core.create_namespaced_config_map("default", _configmap(name, v="1"))
    core.replace_namespaced_config_map(
        name, "default", _configmap(name, v="2") | {"metadata": {"name": name}}
    )

    stale.data = {"v": "3"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map(name, "default", stale)

    assert conflict.value.status == 409
    assert "the object has been modified" in conflict.value.body
    assert core.read_namespaced_config_map(name, "default").data == {"v": "2"}


def test_status_subresource_and_generation(client: ApiClient) -> None:
    api = CustomObjectsApi(client)
    name = next(_names)
    created = api.create_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], _isvc(name))
    assert "status" not in created

    status = {"status": {"url": "http://x.default.example.com"}, "spec": {"predictor": {"minReplicas": 5}}}
    after_status = api.patch_namespaced_custom_object_status(*ISVC[:2], "default", ISVC[2], name, status)
    main = {"status": {"url": "http://ignored"}, "spec": {"predictor": {"minReplicas": 2}}}
    after_main = api.patch_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], name, main)

    assert after_status["status"] == {"url": "http://x.default.example.com"}
    assert after_status["spec"] == created["spec"], "spec changes on /status are ignored"
    assert after_status["metadata"]["generation"] == 1, "a status change does not bump generation"
    assert after_main["status"]["url"] == "http://x.default.example.com", (
        "status changes on the resource are ignored"
    )
    assert after_main["spec"]["predictor"]["minReplicas"] == 2
    assert after_main["metadata"]["generation"] == 2


def test_list_with_label_and_field_selectors(client: ApiClient) -> None:
    api = CustomObjectsApi(client)
    a, b, c = next(_names), next(_names), next(_names)
    api.create_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], _isvc(a, team="x", tier="gold"))
    api.create_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], _isvc(b, team="x"))
    api.create_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], _isvc(c, team="y"))

    def names(**query: str) -> set[str]:
        listed = api.list_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], **query)
        return {item["metadata"]["name"] for item in listed["items"]} & {a, b, c}

    assert names(label_selector="team=x") == {a, b}
    assert names(label_selector="team in (x,y),!tier") == {b, c}
    assert names(label_selector="team!=x") == {c}
    assert names(field_selector=f"metadata.name={a}") == {a}


def test_finalizers_hold_deletion_until_removed(client: ApiClient) -> None:
    core = CoreV1Api(client)
    name = next(_names)
    body = _configmap(name)
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    core.create_namespaced_config_map("default", body)

    core.delete_namespaced_config_map(name, "default")
    held = core.read_namespaced_config_map(name, "default")
    core.patch_namespaced_config_map(name, "default", {"metadata": {"finalizers": None}})

    assert held.metadata.deletion_timestamp is not None
    wait_until(
        lambda: _gone(lambda: core.read_namespaced_config_map(name, "default")),
        10.0,
        what="the finalized ConfigMap to be gone (404)",
        interval=0.05,
        retry_on=(),
    )


def test_foreground_deletion_removes_dependents_first(client: ApiClient) -> None:
    api = CustomObjectsApi(client)
    core = CoreV1Api(client)
    owner = api.create_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], _isvc(next(_names)))
    ref = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": True,
    }
    dependent = next(_names)
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": dependent, "ownerReferences": [ref]}, "data": {}}
    )

    api.delete_namespaced_custom_object(
        *ISVC[:2], "default", ISVC[2], owner["metadata"]["name"], propagation_policy="Foreground"
    )

    wait_until(
        lambda: _gone(lambda: core.read_namespaced_config_map(dependent, "default")),
        10.0,
        what="the dependent to be gone (404)",
        interval=0.05,
        retry_on=(),
    )
    wait_until(
        lambda: _gone(
            lambda: api.get_namespaced_custom_object(*ISVC[:2], "default", ISVC[2], owner["metadata"]["name"])
        ),
        10.0,
        what="the owner to be gone (404)",
        interval=0.05,
        retry_on=(),
    )


def test_deleting_a_namespace_deletes_its_contents(client: ApiClient) -> None:
    core = CoreV1Api(client)
    namespace = next(_names)
    core.create_namespace({"metadata": {"name": namespace}})
    core.create_namespaced_config_map(namespace, _configmap("inside"))

    core.delete_namespace(namespace)

    wait_until(
        lambda: _gone(lambda: core.read_namespace(namespace)),
        10.0,
        what="the namespace to be gone (404)",
        interval=0.05,
        retry_on=(),
    )
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_config_map(namespace, _configmap("late"))
    assert missing.value.status == 404


def test_two_lease_leader_electors_only_one_leads(client: ApiClient) -> None:
    def elector(identity: str) -> LeaderElection:
        lock = LeaseLock("zeroserve-controller", "kube-system", identity)
        lock.api_instance = CoordinationV1Api(client)
        config = electionconfig.Config(lock, 15, 10, 2, lambda: None, lambda: None)
        return LeaderElection(config)

    first, second = elector("controller-a"), elector("controller-b")

    assert first.try_acquire_or_renew() is True
    assert second.try_acquire_or_renew() is False
    assert first.try_acquire_or_renew() is True, "the leader renews"
    assert second.try_acquire_or_renew() is False
    lease = CoordinationV1Api(client).read_namespaced_lease("zeroserve-controller", "kube-system")
    assert lease.spec.holder_identity == "controller-a"


@pytest.fixture
def small_log_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiClient]:
    settings = ApiServerSettings(port=0, in_memory=True, event_retention=5)
    with run_in_thread(settings) as server:
        path = write_kubeconfig(
            tmp_path_factory.mktemp("small") / "kubeconfig", server.url, server.token, ca_cert=server.ca_cert
        )
        api = kubernetes.config.new_client_from_config(config_file=str(path))
        try:
            yield api
        finally:
            api.close()


def test_watch_from_a_compacted_version_is_gone(small_log_server: ApiClient) -> None:
    core = CoreV1Api(small_log_server)
    first = core.create_namespaced_config_map("default", _configmap("c0"))
    for i in range(12):
        core.patch_namespaced_config_map("c0", "default", {"data": {"i": str(i)}})

    watch = kubernetes.watch.Watch()
    with pytest.raises(ApiException) as gone:
        for _ in watch.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=first.metadata.resource_version,
            timeout_seconds=5,
        ):
            pass

    assert gone.value.status == 410


def test_shared_spec_crds_validate_like_kserve(cluster: Cluster, shared_specs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    crds = []
    for path in ("kserve/inferenceservices.crd.yaml", "knative-serving/service.yaml"):
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        crds += [doc for doc in yaml.load_all((shared_specs / path).read_text(), Loader=loader) if doc]
    with run_in_thread(ApiServerSettings(port=0, in_memory=True), crds=crds) as server:
        config = write_kubeconfig(tmp_path / "kubeconfig", server.url, server.token, ca_cert=server.ca_cert)
        from zeroserve.local.testing import Kubectl

        kubectl = Kubectl(config, tmp_path / "cache")
        bad = _isvc("strict")
        bad["spec"]["predictor"]["bogus"] = True
        refused = kubectl("apply", "-f", "-", input=yaml.safe_dump(bad), check=False)
        kubectl("apply", "-f", "-", input=yaml.safe_dump(_isvc("fine")))
        table = kubectl("get", "isvc").stdout

    assert 'unknown field "spec.predictor.bogus"' in refused.stderr
    assert table.split()[:8] == [
        "NAME", "URL", "READY", "PREV", "LATEST", "PREVROLLEDOUTREVISION", "LATESTREADYREVISION", "AGE"
    ]  # fmt: skip
