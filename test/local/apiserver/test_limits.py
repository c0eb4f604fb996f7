"""Request limits in-process: body size, nesting depth, YAML alias bombs, object size, duplicate keys,
and internal errors rendered without Python details."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from zeroserve.apis.crds import crd_for
from zeroserve.local.apiserver import create_app
from zeroserve.local.apiserver.decoding import BodyLimits
from zeroserve.local.apiserver.registry import Registry
from zeroserve.local.apiserver.server import bootstrap
from zeroserve.local.apiserver.storage import Storage
from zeroserve.local.apiserver.watch import WatchHub

CM = "/api/v1/namespaces/default/configmaps"
YAML = {"Content-Type": "application/yaml"}
# CVE-2019-11253's ConfigMap: under 465 bytes of YAML whose aliases expand to 9**9 (387 million) strings
ALIAS_BOMB = b"""\
apiVersion: v1
data:
  a: &a ["web","web","web","web","web","web","web","web","web"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
kind: ConfigMap
metadata:
  name: yaml-bomb
  namespace: default
"""


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    storage = Storage(None)
    registry = Registry(storage, WatchHub(), max_object_bytes=96 * 1024)
    bootstrap(registry, ["default"], [crd_for("InferenceService")])
    app = create_app(registry, token=None, limits=BodyLimits(max_bytes=128 * 1024, max_depth=20))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        yield client
    storage.close()


def _cm(name: str, data: dict[str, str] | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"k": "v"}}


async def test_a_body_over_the_limit_is_413_and_nothing_is_stored(api: httpx.AsyncClient) -> None:
    big = json.dumps(_cm("big", {"k": "x" * 200_000}))

    refused = await api.post(CM, content=big, headers={"Content-Type": "application/json"})
    patched = await api.patch(
        f"{CM}/big", content=big, headers={"Content-Type": "application/merge-patch+json"}
    )

    assert refused.status_code == 413
    assert refused.json()["reason"] == "RequestEntityTooLarge"
    assert refused.json()["message"].startswith("Request entity too large: limit is 131072 bytes")
    assert patched.status_code == 413
    assert (await api.get(f"{CM}/big")).status_code == 404


async def test_a_small_alias_bomb_is_refused_naming_the_problem(api: httpx.AsyncClient) -> None:
    assert len(ALIAS_BOMB) < 465
    refused = await api.post(CM, content=ALIAS_BOMB, headers=YAML)
    applied = await api.patch(
        f"{CM}/yaml-bomb",
        params={"fieldManager": "test"},
        content=ALIAS_BOMB,
        headers={"Content-Type": "application/apply-patch+yaml"},
    )

    for response in (refused, applied):
        assert response.status_code == 400
        message = response.json()["message"]
        assert "expands to more than 100000 values (YAML aliases repeat too much)" in message
    assert (await api.get(f"{CM}/yaml-bomb")).status_code == 404


async def test_aliases_within_the_limit_are_expanded(api: httpx.AsyncClient) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: small, labels: &l {a: b}, annotations: *l}\n"

    created = await api.post(CM, content=body, headers=YAML)

    assert created.status_code == 201
    assert created.json()["metadata"]["annotations"] == {"a": "b"}


@pytest.mark.parametrize(
    ("content", "headers", "expected"),
    [
        (b'{"metadata": {"name": "deep"}, "data": ' + b"[" * 50 + b"]" * 50 + b"}", {}, "more than 20"),
        (b"metadata: {name: deep}\ndata: " + b"[" * 50 + b"]" * 50 + b"\n", YAML, "nested more than 20"),
        (b"metadata: {name: deep}\ndata: " + b"[" * 5000 + b"]" * 5000 + b"\n", YAML, "nesting depth"),
        (b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}", {}, "nested more than 20"),
        (b"&a [*a]", YAML, "a YAML alias refers to itself"),
        (b"a: &a [[[[[[]]]]]]\nb: &b [*a, [*a, [*a, [*a, [*a, [*a]]]]]]\nc: [[[[[[[[[[[[*b]]]]]]]]]]]]", YAML,
         "nested more than 20"),
    ],
    ids=["json", "yaml", "yaml-past-the-parser-limit", "json-past-the-parser-limit", "recursive-alias",
         "deep-through-aliases"],
)  # fmt: skip
async def test_deep_nesting_is_refused(
    api: httpx.AsyncClient, content: bytes, headers: dict, expected: str
) -> None:
    refused = await api.post(CM, content=content, headers=headers or {"Content-Type": "application/json"})

    assert refused.status_code == 400
    message = refused.json()["message"]
    assert message.startswith("the request body could not be decoded: ")
    assert expected in message
    assert "Error" not in message and "Traceback" not in message


async def test_a_large_body_with_a_few_reused_anchors_is_fine() -> None:
    storage = Storage(None)
    registry = Registry(storage, WatchHub())
    bootstrap(registry, ["default"], [])
    block = "{" + ", ".join(f"k{i}: v" for i in range(40_000)) + "}"  # 3 x 40k values past 100k, once
    body = f"kind: ConfigMap\nmetadata: {{name: anchors}}\ndata: &d {block}\nbinaryData: {{}}\nx: [*d, *d]\n"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(registry, token=None)), base_url="http://api"
    ) as client:
        created = await client.post(CM, content=body.encode(), headers=YAML)
    storage.close()

    assert created.status_code == 201, created.text
    assert len(created.json()["data"]) == 40_000


async def test_an_object_over_the_stored_size_limit_is_413(api: httpx.AsyncClient) -> None:
    created = await api.post(CM, json=_cm("grows"))
    grown = await api.patch(
        f"{CM}/grows",
        json={"data": {f"k{i}": "x" * 1000 for i in range(100)}},
        headers={"Content-Type": "application/merge-patch+json"},
    )

    assert created.status_code == 201
    assert grown.status_code == 413
    assert "the limit is 98304 bytes" in grown.json()["message"]
    assert (await api.get(f"{CM}/grows")).json()["data"] == {"k": "v"}


async def test_duplicate_fields_refused_under_strict_and_warned_otherwise(api: httpx.AsyncClient) -> None:
    raw = b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "name": "dup"}, "data": {}}'
    json_headers = {"Content-Type": "application/json"}
    yaml_raw = b"metadata:\n  name: y\n  name: ydup\ndata: {}\n"

    strict = await api.post(CM, content=raw, params={"fieldValidation": "Strict"}, headers=json_headers)
    strict_yaml = await api.post(CM, content=yaml_raw, params={"fieldValidation": "Strict"}, headers=YAML)
    warned = await api.post(CM, content=raw, headers=json_headers)
    ignored = await api.post(CM, content=yaml_raw, params={"fieldValidation": "Ignore"}, headers=YAML)

    assert strict.status_code == 400
    assert strict.json()["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
        'strict decoding error: duplicate field "metadata.name"'
    )
    assert 'duplicate field "metadata.name"' in strict_yaml.json()["message"]
    assert warned.status_code == 201
    assert warned.json()["metadata"]["name"] == "dup", "the last value wins, as in Kubernetes"
    assert warned.headers["warning"] == '299 - "duplicate field \\"metadata.name\\""'
    assert ignored.status_code == 201 and "warning" not in ignored.headers


async def test_an_internal_failure_is_a_status_without_python_details() -> None:
    storage = Storage(None)
    registry = Registry(storage, WatchHub())
    bootstrap(registry, ["default"], [])
    app = create_app(registry, token=None)
    storage.close()  # the database goes away under the server: every write now fails inside sqlite3
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        failed = await client.post(CM, json=_cm("lost"))

    assert failed.status_code == 500
    assert failed.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "an internal error occurred; the API server's log has the details",
        "reason": "InternalError",
        "code": 500,
    }


@pytest.mark.parametrize("query", ["limit=abc", "limit=-1", "watch=true&timeoutSeconds=soon"])
async def test_bad_numeric_parameters_are_400_naming_them(api: httpx.AsyncClient, query: str) -> None:
    answer = await api.get(f"{CM}?{query}")

    assert answer.status_code == 400
    assert answer.json()["message"].startswith(f"the {query.split('&')[-1].split('=')[0]} parameter must be")
