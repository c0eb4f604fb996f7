"""Seldon's examples over REST, served by ``seldon-core-microservice``: answers field by field and
against ``wrapper.oas3.json``'s SeldonMessage schema."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import jsonschema
import pytest
from seldon_support import Component


def check(doc: Any, wrapper_schema: dict[str, Any] | None, name: str = "SeldonMessage") -> Any:
    if wrapper_schema is not None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": wrapper_schema["components"]}
        jsonschema.Draft4Validator(schema).validate(doc)
    return doc


@pytest.fixture(scope="module")
def schema(request: pytest.FixtureRequest) -> dict[str, Any] | None:
    """The wrapper schema, or ``None`` without ``../shared`` (only the schema comparison is skipped)."""
    try:
        return dict(request.getfixturevalue("wrapper_schema"))
    except pytest.skip.Exception:
        return None


def post(c: Component, path: str, doc: Any) -> httpx.Response:
    return httpx.post(c.url + path, json=doc, trust_env=False)


def test_predict_ndarray_tensor_and_meta(components: dict[str, Component], schema: Any) -> None:
    c = components["IrisModel"]
    r = post(
        c,
        "/api/v1.0/predictions",
        {
            "data": {"names": ["a", "b", "c"], "ndarray": [[1, 2, 3]]},
            "meta": {"puid": "p-1", "tags": {"in": "x"}},
        },
    )
    assert r.status_code == 200, r.text
    doc = check(r.json(), schema)
    assert doc["data"] == {"names": ["setosa", "versicolor", "virginica"], "ndarray": [[3.0, 5.0, 7.0]]}
    assert doc["meta"] == {"puid": "p-1", "tags": {"in": "x"}}
    r = post(c, "/predict", {"data": {"tensor": {"shape": [1, 3], "values": [0, 1, 2]}}})
    doc = check(r.json(), schema)
    assert doc["data"] == {
        "names": ["setosa", "versicolor", "virginica"],
        "tensor": {"shape": [1, 3], "values": [1.0, 3.0, 5.0]},
    }
    assert doc["meta"] == {}


def test_predict_tftensor_str_bin_json(components: dict[str, Component], schema: Any) -> None:
    c = components["IrisModel"]
    tf = {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "1"}, {"size": "3"}]}, "floatVal": [1, 2, 3]}
    doc = check(post(c, "/api/v1.0/predictions", {"data": {"tftensor": tf}}).json(), schema)
    assert doc["data"]["tftensor"] == {
        "dtype": "DT_DOUBLE",
        "tensorShape": {"dim": [{"size": "1"}, {"size": "3"}]},
        "doubleVal": [3.0, 5.0, 7.0],
    }
    assert check(post(c, "/predict", {"strData": "hello"}).json(), schema) == {"strData": "HELLO", "meta": {}}
    raw = base64.b64encode(b"abc").decode()
    assert post(c, "/predict", {"binData": raw}).json()["binData"] == base64.b64encode(b"cba").decode()
    doc = post(c, "/predict", {"jsonData": {"k": [1]}}).json()
    assert doc["jsonData"] == {"echo": {"k": [1]}, "label": "setosa"}


def test_form_and_query_bodies(components: dict[str, Component]) -> None:
    c = components["IrisModel"]
    msg = json.dumps({"data": {"ndarray": [[1, 1, 1]]}})
    r = httpx.post(c.url + "/predict", data={"json": msg}, trust_env=False)
    assert r.status_code == 200 and r.json()["data"]["ndarray"] == [[3.0, 3.0, 3.0]]
    r = httpx.get(c.url + "/predict", params={"json": msg}, trust_env=False)
    assert r.status_code == 200 and r.json()["data"]["ndarray"] == [[3.0, 3.0, 3.0]]
    r = httpx.post(
        c.url + "/api/v0.1/predictions",
        content=msg,
        headers={"content-type": "application/x-www-form-urlencoded"},
        trust_env=False,
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("body", "info"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"{}", "has no data"),
        (b'{"data": {"ndarray": 3}}', '"data.ndarray" must be a list'),
        (
            b'{"data": {"tensor": {"shape": [2, 2], "values": [1, 2]}}}',
            '"data.tensor": shape [2, 2] needs 4 values',
        ),
        (b'{"data": {"names": [1], "ndarray": []}}', '"data.names" must be a list of strings'),
        (b'{"binData": "***"}', '"binData" is not valid base64'),
        (b'{"strData": 1}', '"strData" must be a string'),
        (b'{"data": {"tftensor": {"dtype": "DT_NOPE"}}}', "data.tftensor"),
        (b'{"meta": {"routing": {"r": "x"}}, "strData": "a"}', '"meta.routing.r" must be an integer'),
        (b"", "no JSON in the request"),
    ],
)
def test_bad_input_is_400_in_seldon_shape(
    components: dict[str, Component], schema: Any, body: bytes, info: str
) -> None:
    r = httpx.post(
        components["IrisModel"].url + "/api/v1.0/predictions",
        content=body,
        headers={"content-type": "application/json"},
        trust_env=False,
    )
    assert r.status_code == 400, r.text
    doc = check(r.json(), schema)
    assert set(doc) == {"status"}
    assert doc["status"]["code"] == 400 and doc["status"]["status"] == "FAILURE"
    assert doc["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    assert info in doc["status"]["info"]
    assert "Traceback" not in r.text and "Error" not in doc["status"]["info"]


def test_user_failure_is_500_in_seldon_shape(components: dict[str, Component]) -> None:
    r = post(components["IrisModel"], "/predict", {"data": {"ndarray": [[-5000, 1, 1]]}})
    assert r.status_code == 500
    assert r.json() == {
        "status": {
            "code": 500,
            "info": "the component's predict() failed: values below -1000 are not supported",
            "reason": "MICROSERVICE_INTERNAL_ERROR",
            "status": "FAILURE",
        }
    }


def test_two_argument_predict_and_class_names_attribute(components: dict[str, Component]) -> None:
    doc = post(components["TwoArgModel"], "/predict", {"data": {"ndarray": [[1, 2], [3, 4]]}}).json()
    assert doc["data"] == {"names": ["doubled"], "ndarray": [[6.0], [14.0]]}


def sample(text: str, line_start: str) -> float:
    """The value of the Prometheus sample whose line starts with ``line_start`` (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_router_route_and_feedback(components: dict[str, Component], schema: Any) -> None:
    c = components["ABRouter"]
    doc = check(post(c, "/route", {"data": {"ndarray": [[4.0, 1.0]]}}).json(), schema)
    assert doc["data"] == {"names": ["t:0"], "ndarray": [[1]]}  # 4 % 3 branches (typed INT from the env)
    assert post(c, "/api/v1.0/route", {"data": {"ndarray": [[-1.0]]}}).json()["data"]["ndarray"] == [[-2]]
    before = httpx.get(c.url + "/metrics", trust_env=False).text
    feedback = {
        "request": {"data": {"ndarray": [[4.0, 1.0]]}},
        "response": {"data": {"ndarray": [[1]]}, "meta": {"routing": {"router": 2}}},
        "reward": 1.0,
    }
    r = post(c, "/api/v1.0/feedback", feedback)
    assert r.status_code == 200, r.text
    first = check(r.json(), schema)["meta"]["tags"]["rewards"]
    other = {**feedback, "reward": 0.5, "response": {"meta": {"routing": {"other": 1}}}}
    r = post(c, "/send-feedback", other)
    assert (
        r.json()["meta"]["tags"]["rewards"] == first
    )  # no entry for this node: routing None, nothing learnt
    r = post(c, "/send-feedback", feedback)
    again = r.json()["meta"]["tags"]["rewards"]
    assert again[2] == first[2] + 1.0 and again[:2] == first[:2]  # routing of PREDICTIVE_UNIT_ID
    bad = post(c, "/send-feedback", {**feedback, "reward": "lots"})
    assert bad.status_code == 400 and '"reward" must be a number' in bad.json()["status"]["info"]
    after = httpx.get(c.url + "/metrics", trust_env=False).text
    count = 'seldon_api_model_feedback_total{method="feedback"}'
    reward = 'seldon_api_model_feedback_reward_total{method="feedback"}'
    assert sample(after, count) - sample(before, count) == 3
    assert sample(after, reward) - sample(before, reward) == 2.5


def test_combiner_aggregate_merges_meta(components: dict[str, Component], schema: Any) -> None:
    msgs = {
        "seldonMessages": [
            {
                "data": {"ndarray": [[1.0, 3.0]]},
                "meta": {"puid": "p", "tags": {"a": 1}, "requestPath": {"m1": "img1"}},
            },
            {"data": {"ndarray": [[3.0, 5.0]]}, "meta": {"tags": {"b": 2}, "requestPath": {"m2": "img2"}}},
        ]
    }
    r = post(components["MeanCombiner"], "/aggregate", msgs)
    assert r.status_code == 200, r.text
    doc = check(r.json(), schema)
    assert doc["data"] == {"names": ["t:0", "t:1"], "ndarray": [[2.0, 4.0]]}
    assert doc["meta"] == {"puid": "p", "tags": {"a": 1, "b": 2}, "requestPath": {"m1": "img1", "m2": "img2"}}
    bad = post(components["MeanCombiner"], "/aggregate", {"data": {"ndarray": [1]}})
    assert bad.status_code == 400 and "SeldonMessageList" in bad.json()["status"]["info"]


def test_transformers(components: dict[str, Component], schema: Any) -> None:
    doc = check(
        post(
            components["ScaleTransformer"],
            "/transform-input",
            {"data": {"names": ["a", "b"], "ndarray": [[10, 20]]}},
        ).json(),
        schema,
    )
    assert doc["data"] == {"names": ["a_scaled", "b_scaled"], "ndarray": [[1.0, 2.0]]}
    msg = {"data": {"names": ["x"], "ndarray": [[1]]}}
    assert post(components["ScaleTransformer"], "/transform-output", msg).json() == msg  # no hook: unchanged
    doc = check(
        post(
            components["LabelOutputTransformer"],
            "/api/v1.0/transform-output",
            {"data": {"ndarray": [[0.1, 0.7, 0.2], [0.9, 0.0, 0.1]]}},
        ).json(),
        schema,
    )
    assert doc["data"] == {"names": ["t:0"], "ndarray": [["versicolor"], ["setosa"]]}


def test_metrics_and_tags(components: dict[str, Component], schema: Any) -> None:
    c = components["MetricsModel"]
    before = httpx.get(c.url + "/metrics", trust_env=False).text
    docs = [
        check(
            post(c, "/predict", {"data": {"ndarray": [[1]]}, "meta": {"tags": {"from": "client"}}}).json(),
            schema,
        )
        for _ in range(2)
    ]
    calls = docs[1]["meta"]["tags"]["calls"]
    assert docs[0]["meta"]["tags"] == {"from": "client", "mytag": 1, "calls": calls - 1}
    assert docs[1]["meta"]["metrics"] == [
        {"key": "mycounter", "type": "COUNTER", "value": 1, "tags": {}},
        {"key": "mygauge", "type": "GAUGE", "value": 100 + calls, "tags": {"mytag": "mytagvalue"}},
        {"key": "mytimer", "type": "TIMER", "value": 20.2, "tags": {}},
    ]
    text = httpx.get(c.url + "/metrics", trust_env=False).text
    assert "# TYPE mycounter_total counter" in text
    counter = 'mycounter_total{method="predict"}'
    assert sample(text, counter) - sample(before, counter) == 2
    assert sample(text, 'mygauge{method="predict",mytag="mytagvalue"}') == 100 + calls
    timer_count, timer_sum = 'mytimer_count{method="predict"}', 'mytimer_sum{method="predict"}'
    assert sample(text, timer_count) - sample(before, timer_count) == 2
    assert abs(sample(text, timer_sum) - sample(before, timer_sum) - 40.4) < 1e-9
    assert "zeroserve_requests_total" in text  # next to the server's own metrics


def test_outlier_detector(components: dict[str, Component], schema: Any) -> None:
    doc = check(
        post(
            components["OutlierDetector"], "/transform-input", {"data": {"ndarray": [[1, 2], [10, 0]]}}
        ).json(),
        schema,
    )
    assert doc["data"]["ndarray"] == [[1, 2], [10, 0]]
    assert doc["meta"]["tags"] == {"outlier-predictions": [0, 1]}
    assert doc["meta"]["metrics"] == [{"key": "is_outlier", "type": "GAUGE", "value": 1.0, "tags": {}}]


def test_raw_predict_wins(components: dict[str, Component]) -> None:
    doc = post(components["RawModel"], "/predict", {"data": {"ndarray": [1]}, "meta": {}}).json()
    assert doc == {"jsonData": {"raw": True, "keys": ["data", "meta"]}, "meta": {"tags": {"raw": "rest"}}}


def test_health_metadata_and_openapi(components: dict[str, Component]) -> None:
    c = components["IrisModel"]
    r = httpx.get(c.url + "/health/ping", trust_env=False)
    assert r.status_code == 200 and r.text == "pong"
    status = httpx.get(c.url + "/health/status", trust_env=False).json()
    assert status["jsonData"] == {"loaded": True, "params": [2.0, 1, "setosa", True, {"a": [1, 2]}]}
    meta = httpx.get(c.url + "/metadata", trust_env=False).json()
    assert meta == httpx.get(c.url + "/api/v1.0/metadata", trust_env=False).json()
    assert meta["name"] == "iris" and meta["versions"] == ["v1"] and meta["custom"] == {"author": "zeroserve"}
    assert meta["inputs"] == [{"messagetype": "tensor", "schema": {"names": ["a", "b", "c"]}}]
    default = httpx.get(components["TwoArgModel"].url + "/metadata", trust_env=False).json()
    assert default == {
        "name": "TwoArgModel",
        "versions": [],
        "platform": "",
        "inputs": [],
        "outputs": [],
        "custom": {},
    }
    spec = httpx.get(c.url + "/seldon.json", trust_env=False).json()
    assert spec["openapi"].startswith("3.") and "/api/v1.0/predictions" in spec["paths"]
    assert httpx.get(c.url + "/v2/health/ready", trust_env=False).status_code == 200  # KServe APIs as well
