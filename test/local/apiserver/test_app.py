"""The ASGI app in-process (``httpx.ASGITransport``): discovery, OpenAPI, auth, errors and REST corners."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from zeroserve.apis.crds import crd_for
from zeroserve.local.apiserver import create_app
from zeroserve.local.apiserver.collector import GarbageCollector
from zeroserve.local.apiserver.registry import Registry
from zeroserve.local.apiserver.server import bootstrap
from zeroserve.local.apiserver.storage import Storage
from zeroserve.local.apiserver.watch import WatchHub

TOKEN = "secret-token"
CM = "/api/v1/namespaces/default/configmaps"
ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    storage = Storage(None)
    registry = Registry(storage, WatchHub())
    GarbageCollector(registry)
    bootstrap(registry, ["default", "kube-system"], [crd_for("InferenceService")])
    app = create_app(registry, token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api", headers=headers
    ) as client:
        yield client
    storage.close()


def _cm(name: str, **labels: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"},
    }


async def test_requests_need_the_token_but_health_checks_do_not(api: httpx.AsyncClient) -> None:
    anonymous = await api.get("/api/v1/namespaces", headers={"Authorization": ""})
    health = await api.get("/readyz", headers={"Authorization": ""})

    assert anonymous.status_code == 401
    assert anonymous.json()["reason"] == "Unauthorized"
    assert health.text == "ok"


async def test_discovery_legacy_and_aggregated(api: httpx.AsyncClient) -> None:
    groups = (await api.get("/apis")).json()
    aggregated = await api.get(
        "/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}
    )
    resources = (await api.get("/apis/serving.kserve.io/v1beta1")).json()

    version = {"groupVersion": "serving.kserve.io/v1beta1", "version": "v1beta1"}
    expected = {"name": "serving.kserve.io", "versions": [version], "preferredVersion": version}
    assert expected in groups["groups"]
    assert aggregated.headers["content-type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
    isvc = next(r for r in resources["resources"] if r["name"] == "inferenceservices")
    assert isvc["shortNames"] == ["isvc"] and isvc["kind"] == "InferenceService" and isvc["namespaced"]
    assert any(r["name"] == "inferenceservices/status" for r in resources["resources"])
    assert (await api.get("/apis/nothing.example.com/v1")).status_code == 404


async def test_openapi_v3_advertises_server_side_field_validation(api: httpx.AsyncClient) -> None:
    index = (await api.get("/openapi/v3")).json()
    url = index["paths"]["apis/serving.kserve.io/v1beta1"]["serverRelativeURL"]
    document = (await api.get(url)).json()

    patch = document["paths"][
        "/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices/{name}"
    ]["patch"]
    gvk = {"group": "serving.kserve.io", "version": "v1beta1", "kind": "InferenceService"}
    assert patch["x-kubernetes-group-version-kind"] == gvk
    assert {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}} in patch["parameters"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert "io.kserve.serving.v1beta1.InferenceService" in document["components"]["schemas"]


async def test_dry_run_generate_name_and_unknown_field_warnings(api: httpx.AsyncClient) -> None:
    dry = await api.post(CM, params={"dryRun": "All"}, json=_cm("dry"))
    generated = await api.post(CM, json={"metadata": {"generateName": "gen-"}, "data": {}})
    body = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "warned"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}}}, "bogus": 1},
    }
    warned = await api.post(ISVCS, json=body)

    assert dry.status_code == 201
    assert (await api.get(f"{CM}/dry")).status_code == 404
    assert (
        generated.json()["metadata"]["name"].startswith("gen-")
        and len(generated.json()["metadata"]["name"]) == 9
    )
    assert warned.status_code == 201
    assert warned.headers["warning"] == '299 - "unknown field \\"spec.bogus\\""'
    assert "bogus" not in warned.json()["spec"]


async def test_errors_are_status_objects(api: httpx.AsyncClient) -> None:
    missing_ns = await api.post("/api/v1/namespaces/nope/configmaps", json=_cm("x"))
    bad_json = await api.post(CM, content=b"{nope", headers={"Content-Type": "application/json"})
    cbor = await api.post(CM, content=b"\xa0", headers={"Content-Type": "application/cbor"})
    protected = await api.delete("/api/v1/namespaces/default")
    wrong_kind = await api.post(CM, json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}})
    invalid_name = await api.post(CM, json=_cm("Not_Valid"))

    assert (missing_ns.status_code, missing_ns.json()["message"]) == (404, 'namespaces "nope" not found')
    assert bad_json.status_code == 400 and bad_json.json()["kind"] == "Status"
    assert cbor.status_code == 415
    assert protected.status_code == 403
    assert wrong_kind.status_code == 400
    assert invalid_name.status_code == 422
    cause = invalid_name.json()["details"]["causes"][0]
    assert cause["field"] == "metadata.name" and cause["reason"] == "FieldValueInvalid"


async def test_invalid_crd_is_refused_with_causes(api: httpx.AsyncClient) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "wrong.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Galaxy",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [],
        },
    }

    refused = await api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)

    assert refused.status_code == 422
    fields = {c["field"] for c in refused.json()["details"]["causes"]}
    assert fields == {"spec.scope", "spec.versions", "metadata.name"}


async def test_updates_noop_pagination_and_deletecollection(api: httpx.AsyncClient) -> None:
    for i in range(5):
        await api.post(CM, json=_cm(f"page-{i}", batch="b" if i % 2 else "a"))
    current = (await api.get(f"{CM}/page-0")).json()
    same = await api.put(f"{CM}/page-0", json=current)

    first = (await api.get(CM, params={"limit": 2})).json()
    second = (await api.get(CM, params={"limit": 2, "continue": first["metadata"]["continue"]})).json()
    removed = await api.delete(CM, params={"labelSelector": "batch=b"})
    left = (await api.get(CM)).json()["items"]

    assert same.json()["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"], (
        "no-op update"
    )
    assert [i["metadata"]["name"] for i in first["items"]] == ["page-0", "page-1"]
    assert [i["metadata"]["name"] for i in second["items"]] == ["page-2", "page-3"]
    assert {i["metadata"]["name"] for i in removed.json()["items"]} == {"page-1", "page-3"}
    assert {i["metadata"]["name"] for i in left} == {"page-0", "page-2", "page-4"}


async def test_table_with_full_objects(api: httpx.AsyncClient) -> None:
    await api.post(CM, json=_cm("tabled"))

    table = await api.get(
        f"{CM}/tabled",
        params={"includeObject": "Object"},
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
    )

    body = table.json()
    assert body["kind"] == "Table"
    assert body["rows"][0]["cells"][0] == "tabled"
    assert body["rows"][0]["object"]["data"] == {"k": "v"}


async def test_idle_watches_that_allow_bookmarks_get_them() -> None:
    storage = Storage(None)
    registry = Registry(storage, WatchHub())
    bootstrap(registry, ["default"], [])
    app = create_app(registry, token=None, bookmark_interval=0.1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        response = await client.get(
            CM,
            params={
                "watch": "true",
                "allowWatchBookmarks": "true",
                "timeoutSeconds": "1",
                "resourceVersion": "1",
            },
        )
    storage.close()

    events = [json.loads(line) for line in response.text.splitlines()]
    assert len(events) >= 3
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert events[0]["object"]["metadata"]["resourceVersion"] == str(registry.resource_version)


async def test_metrics_count_requests_by_verb_and_resource(api: httpx.AsyncClient) -> None:
    await api.post(CM, json=_cm("counted"))
    await api.get(f"{CM}/counted")
    await api.get(f"{CM}/missing")

    text = (await api.get("/metrics")).text

    assert 'apiserver_request_total{code="201",resource="configmaps",verb="create"} 1.0' in text
    assert 'apiserver_request_total{code="404",resource="configmaps",verb="get"} 1.0' in text
    assert "apiserver_request_duration_seconds_bucket" in text
