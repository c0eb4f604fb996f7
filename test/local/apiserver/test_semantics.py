"""Pure pieces of the API server, table-driven: structural schemas, JSONPath, selectors, tables, patches."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from zeroserve.local.apiserver.apply import server_side_apply
from zeroserve.local.apiserver.errors import ApiError
from zeroserve.local.apiserver.jsonpath import JsonPath
from zeroserve.local.apiserver.patches import apply_patch, merge_patch
from zeroserve.local.apiserver.protobuf import decode_protobuf
from zeroserve.local.apiserver.resources import ResourceVersionDef
from zeroserve.local.apiserver.schema import StructuralSchema
from zeroserve.local.apiserver.selectors import parse_field_selector, parse_label_selector
from zeroserve.local.apiserver.tables import human_duration, table_for

SCHEMA = StructuralSchema(
    {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["mode"],
                "properties": {
                    "mode": {"type": "string", "enum": ["fast", "safe"]},
                    "replicas": {"type": "integer", "default": 1, "minimum": 0},
                    "port": {"x-kubernetes-int-or-string": True},
                    "note": {"type": "string", "nullable": True},
                    "name": {"type": "string", "pattern": "^[a-z]+$"},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"weight": {"type": "integer", "default": 5}},
                        },
                    },
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "size": {
                        "anyOf": [{"type": "integer"}, {"type": "string"}],
                        "x-kubernetes-int-or-string": True,
                    },
                },
            }
        },
    }
)


def test_prune_reports_unknown_fields_and_drops_non_nullable_nulls() -> None:
    obj = {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "a", "anything": 1},
        "spec": {"mode": "fast", "bogus": 1, "note": None, "replicas": None, "extra": {"free": {"form": 1}}},
        "top": True,
    }

    unknown = SCHEMA.prune(obj)

    assert unknown == ["spec.bogus", "top"]
    assert obj["metadata"] == {"name": "a", "anything": 1}, "metadata is validated apart, never pruned here"
    assert obj["spec"] == {"mode": "fast", "note": None, "extra": {"free": {"form": 1}}}


def test_defaults_fill_absent_fields_in_objects_and_list_items() -> None:
    obj = {"metadata": {}, "spec": {"mode": "safe", "items": [{}, {"weight": 2}]}}

    SCHEMA.apply_defaults(obj)

    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["items"] == [{"weight": 5}, {"weight": 2}]


def _wrong_type(path: str, actual: str, expected: str) -> str:
    return f'{path}: Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"'


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"mode": "fast"}, []),
        ({}, ["spec.mode: Required value"]),
        ({"mode": "slow"}, ['spec.mode: Unsupported value: "slow": supported values: "fast", "safe"']),
        ({"mode": "fast", "replicas": "3"}, [_wrong_type("spec.replicas", "string", "integer")]),
        (
            {"mode": "fast", "replicas": -1},
            ["spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"],
        ),
        ({"mode": "fast", "port": "http"}, []),
        ({"mode": "fast", "port": 8080}, []),
        ({"mode": "fast", "port": 1.5}, [_wrong_type("spec.port", "number", "integer,string")]),
        (
            {"mode": "fast", "name": "Bad"},
            ["spec.name: Invalid value: \"Bad\": spec.name in body should match '^[a-z]+$'"],
        ),
        ({"mode": "fast", "labels": {"a": 1}}, [_wrong_type("spec.labels.a", "integer", "string")]),
        (
            {"mode": "fast", "items": [{"weight": "x"}]},
            [_wrong_type("spec.items[0].weight", "string", "integer")],
        ),
        ({"mode": "fast", "note": None}, []),
        ({"mode": "fast", "size": True}, [_wrong_type("spec.size", "boolean", "integer,string")]),
    ],
)
def test_validation_reports_every_error_with_its_path(spec: dict, expected: list[str]) -> None:
    errors = SCHEMA.validate({"metadata": {"name": "a"}, "spec": spec})

    assert [e.message() for e in errors] == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (".status.url", ["http://x"]),
        (".status.conditions[?(@.type=='Ready')].status", ["True"]),
        ('.status.conditions[?(@.type=="Ready")].reason', ["Done"]),
        (".status.traffic[?(@.latestRevision==true)].percent", [80]),
        (".status.traffic[?(@.tag=='prev')].revisionName", ["r1"]),
        (".metadata.labels['serving\\.knative\\.dev/configuration']", ["cfg"]),
        (".metadata.annotations.eventing\\.knative\\.dev/broker\\.class", ["MTChannelBasedBroker"]),
        (".status.traffic[*].percent", [20, 80]),
        (".status.traffic[0].percent", [20]),
        (".status.missing", []),
    ],
)
def test_printer_column_jsonpath(expression: str, expected: list) -> None:
    obj = {
        "metadata": {
            "labels": {"serving.knative.dev/configuration": "cfg"},
            "annotations": {"eventing.knative.dev/broker.class": "MTChannelBasedBroker"},
        },
        "status": {
            "url": "http://x",
            "conditions": [
                {"type": "Other", "status": "False"},
                {"type": "Ready", "status": "True", "reason": "Done"},
            ],
            "traffic": [
                {"tag": "prev", "percent": 20, "revisionName": "r1", "latestRevision": False},
                {"percent": 80, "revisionName": "r2", "latestRevision": True},
            ],
        },
    }

    assert JsonPath(expression).find(obj) == expected


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("app=iris", {"a", "b"}),
        ("app==iris,tier=gold", {"a"}),
        ("app!=iris", {"c"}),
        ("tier in (gold, silver)", {"a", "c"}),
        ("tier notin (gold)", {"b", "c"}),
        ("tier", {"a", "c"}),
        ("!tier", {"b"}),
        ("", {"a", "b", "c"}),
    ],
)
def test_label_selectors(selector: str, matches: set[str]) -> None:
    objects = [
        {"metadata": {"name": "a", "labels": {"app": "iris", "tier": "gold"}}},
        {"metadata": {"name": "b", "labels": {"app": "iris"}}},
        {"metadata": {"name": "c", "labels": {"app": "dogs", "tier": "silver"}}},
    ]
    select = parse_label_selector(selector)

    assert {o["metadata"]["name"] for o in objects if select(o)} == matches


def test_field_selectors_and_parse_errors() -> None:
    event = {
        "metadata": {"name": "e", "namespace": "ns"},
        "involvedObject": {"kind": "InferenceService", "name": "x"},
    }

    assert parse_field_selector("involvedObject.kind=InferenceService,involvedObject.name=x")(event)
    assert not parse_field_selector("metadata.namespace!=ns")(event)
    with pytest.raises(ApiError) as failure:
        parse_label_selector("a in b")
    assert failure.value.code == 400


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (4 * 3600 + 60, "4h1m"),
        (30 * 3600, "30h"),
        (3 * 86400, "3d"),
        (800 * 86400, "2y"),
    ],
)
def test_ages_read_like_kubectl(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_table_has_name_first_then_printer_columns() -> None:
    version = ResourceVersionDef(
        "v1",
        None,
        printer_columns=(
            {"name": "Ready", "type": "string", "jsonPath": ".status.ready"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ),
    )
    obj = {
        "metadata": {"name": "x", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"ready": "True"},
    }

    table = table_for(version, [obj], now=datetime(2026, 1, 1, 0, 5, tzinfo=UTC))

    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Ready", "Age"]
    assert table["rows"][0]["cells"] == ["x", "True", "5m"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_patches() -> None:
    current = {
        "metadata": {"name": "a", "labels": {"x": "1", "y": "2"}},
        "spec": {"list": [1, 2], "keep": True},
    }

    merged = merge_patch(current, {"metadata": {"labels": {"x": None, "z": "3"}}, "spec": {"list": [3]}})
    strategic = apply_patch(
        current, "application/strategic-merge-patch+json", b'{"spec": {"$patch": "replace", "new": 1}}'
    )
    json_patched = apply_patch(
        current,
        "application/json-patch+json",
        json.dumps([{"op": "add", "path": "/spec/list/-", "value": 9}]).encode(),
    )

    assert merged == {
        "metadata": {"name": "a", "labels": {"y": "2", "z": "3"}},
        "spec": {"list": [3], "keep": True},
    }
    assert strategic["spec"] == {"new": 1}
    assert json_patched["spec"]["list"] == [1, 2, 9]
    assert current["spec"]["list"] == [1, 2], "patches never modify their input"
    with pytest.raises(ApiError) as bad:
        apply_patch(current, "application/json-patch+json", b'[{"op": "remove", "path": "/nope"}]')
    assert bad.value.code == 400
    with pytest.raises(ApiError) as unknown:
        apply_patch(current, "text/plain", b"{}")
    assert unknown.value.code == 415


def test_protobuf_bodies_of_kubectl_create() -> None:
    # `kubectl create secret generic s3 --from-literal=AWS_ACCESS_KEY_ID=abc`, as kubectl 1.37 sends it
    body = (
        b"k8s\x00"
        + b"\n\x0c\n\x02v1\x12\x06Secret"
        + b"\x12\x30"
        + b"\n\x12\n\x02s3\x12\x00\x1a\x00\x22\x00\x2a\x002\x008\x00B\x00"
        + b"\x12\x18\n\x11AWS_ACCESS_KEY_ID\x12\x03abc"
        + b"\x1a\x00\x1a\x00\x22\x00"
    )

    decoded = decode_protobuf(body)

    assert decoded == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s3"},
        "data": {"AWS_ACCESS_KEY_ID": "YWJj"},
    }


def test_server_side_apply_releases_only_what_the_manager_dropped() -> None:
    first = {"metadata": {"name": "a", "labels": {"mine": "1"}}, "spec": {"x": 1, "nested": {"y": 2, "z": 3}}}
    created = server_side_apply(None, first, "kubectl", "v1")
    created["metadata"]["labels"]["theirs"] = "2"
    created["spec"]["other"] = True

    second = {"metadata": {"name": "a"}, "spec": {"nested": {"y": 5}}}
    updated = server_side_apply(created, second, "kubectl", "v1")

    assert updated["spec"] == {"nested": {"y": 5}, "other": True}
    assert updated["metadata"]["labels"] == {"theirs": "2"}
    assert [e["manager"] for e in updated["metadata"]["managedFields"]] == ["kubectl"]
    assert updated["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {"f:nested": {"f:y": {}}}}
