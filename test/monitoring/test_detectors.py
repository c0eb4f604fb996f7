"""Drift and outlier detectors: the pure methods, and the service over real HTTP with real CloudEvents."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event, to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent as LibEvent
from prometheus_client import CollectorRegistry
from sklearn.datasets import load_iris

from zeroserve.monitoring.drift import KSDriftDetector
from zeroserve.monitoring.mmd import MMDDriftDetector
from zeroserve.monitoring.payload import PayloadError, instances_from_payload
from zeroserve.monitoring.reference import ReferenceDataError, load_reference
from zeroserve.monitoring.sender import ResultSender
from zeroserve.monitoring.server import DRIFT_TYPE, OUTLIER_TYPE, DetectorService, build_method

from .conftest import EventSink, serve

REQUEST = "org.kubeflow.serving.inference.request"


def iris_like(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """Rows from a Gaussian per iris class (class picked uniformly); ``shift`` moves petal length."""
    iris = load_iris()
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 3, size=n)
    rows = np.empty((n, 4))
    for c in range(3):
        members = iris.data[iris.target == c]
        picked = classes == c
        rows[picked] = rng.multivariate_normal(members.mean(0), np.cov(members, rowvar=False), picked.sum())
    rows[:, 2] += shift
    return rows


# ---- pure methods -------------------------------------------------------------------------------


def test_ks_drift_flags_the_shifted_window_only() -> None:
    detector = KSDriftDetector(iris_like(1000, seed=1), window=500)
    same = detector.update(iris_like(1000, seed=2))
    shifted = detector.update(iris_like(1000, seed=3, shift=0.8))
    assert [r.is_drift for r in same] == [0, 0]
    assert [r.is_drift for r in shifted] == [1, 1]
    assert min(shifted[0].p_val) == shifted[0].p_val[2]  # the petal-length feature moved
    assert shifted[0].distance[2] > same[0].distance[2]


def test_sliding_window_and_fdr_correction() -> None:
    detector = KSDriftDetector(iris_like(600, seed=1), window=200, mode="sliding", step=50, correction="fdr")
    results = detector.update(iris_like(300, seed=2))
    assert len(results) == 3  # at 200, 250 and 300 instances
    assert all(r.window_size == 200 for r in results)


@pytest.mark.parametrize(
    ("doc", "shape"),
    [
        ({"instances": [[1, 2], [3, 4]]}, (2, 2)),
        ({"instances": [{"a": 1, "b": 2}]}, (1, 2)),
        ({"instances": [1, 2, 3]}, (3, 1)),
        ({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}, (2, 2)),
        ({"inputs": [{"shape": [2], "data": [1, 2]}, {"shape": [2], "data": [3, 4]}]}, (2, 2)),
    ],
)
def test_payloads_v1_and_v2(doc: object, shape: tuple[int, int]) -> None:
    assert instances_from_payload(doc).shape == shape


@pytest.mark.parametrize(
    "doc",
    [
        [1, 2],
        {"foo": 1},
        {"instances": []},
        {"instances": [[1, 2], [3]]},
        {"instances": [["a"]]},
        {"inputs": [{}]},
    ],
)
def test_unreadable_payloads(doc: object) -> None:
    with pytest.raises(PayloadError):
        instances_from_payload(doc)


def test_reference_from_npy_csv_and_folder(tmp_path: Path) -> None:
    data = iris_like(10, seed=0)
    np.save(tmp_path / "ref.npy", data)
    (tmp_path / "csv").mkdir()
    np.savetxt(tmp_path / "csv" / "ref.csv", data, delimiter=",", header="a,b,c,d", comments="")
    assert np.allclose(load_reference(f"file://{tmp_path / 'ref.npy'}"), data)
    assert np.allclose(load_reference(str(tmp_path / "csv")), data)
    with pytest.raises(ReferenceDataError, match="not found"):
        load_reference(str(tmp_path / "missing.npy"))


# ---- the service over HTTP ----------------------------------------------------------------------


def request_event(rows: np.ndarray, v2: bool = False) -> LibEvent:
    if v2:
        data: dict[str, object] = {
            "inputs": [
                {"name": "x", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}
            ]
        }
    else:
        data = {"instances": rows.tolist()}
    attrs = {"type": REQUEST, "source": "http://localhost:9081/", "inferenceservicename": "iris"}
    return LibEvent(attributes=attrs, data=data)


async def post(client: httpx.AsyncClient, url: str, event: LibEvent) -> httpx.Response:
    message = to_binary_event(event)
    return await client.post(url, headers=message.headers, content=message.body)


async def test_drift_service_replies_with_kserve_drift_events_only_on_the_shifted_half() -> None:
    registry = CollectorRegistry()
    service = DetectorService(
        "drift", build_method("drift", window=500), reference=iris_like(1000, seed=1), registry=registry
    )
    replies = []
    async with serve(service) as server, httpx.AsyncClient(base_url=server.url) as client:
        rows = np.vstack([iris_like(1000, seed=2), iris_like(1000, seed=3, shift=0.8)])
        for i, start in enumerate(range(0, 2000, 10)):
            response = await post(client, "/", request_event(rows[start : start + 10], v2=i % 2 == 1))
            assert response.status_code in (200, 202)
            if response.status_code == 200:
                message = HTTPMessage(headers=dict(response.headers), body=response.content)
                replies.append(from_http_event(message))
        metrics = (await client.get("/metrics")).text
    assert [r.get_type() for r in replies] == [DRIFT_TYPE] * 4
    assert [r.get_data()["data"]["is_drift"] for r in replies] == [0, 0, 1, 1]
    first = replies[0].get_data()["data"]
    assert set(first) == {"is_drift", "p_val", "distance", "threshold"} and len(first["p_val"]) == 4
    assert replies[0].get_extension("inferenceservicename") == "iris"
    assert registry.get_sample_value("zeroserve_drift_tests_total", {"is_drift": "1"}) == 2
    assert "zeroserve_drift_p_value" in metrics


async def test_outlier_service_flags_injected_outliers_and_sends_results_to_a_sink() -> None:
    sink = EventSink()
    registry = CollectorRegistry()
    async with serve(sink) as sink_server:
        emitter = ResultSender(sink_server.url, registry=CollectorRegistry())
        service = DetectorService(
            "outlier",
            build_method("outlier", threshold_percentile=99.5),
            reference=iris_like(1000, seed=1),
            sink=emitter,
            registry=registry,
        )
        async with serve(service) as server, httpx.AsyncClient(base_url=server.url) as client:
            normal = iris_like(200, seed=5)
            outliers = np.array([[12.0, 0.5, 12.0, 6.0], [1.0, 9.0, 0.2, 4.0]])
            for start in range(0, 200, 20):
                assert (await post(client, "/", request_event(normal[start : start + 20]))).status_code == 202
            assert (await post(client, "/", request_event(outliers))).status_code == 202
            events = await sink.wait_for(11)
    assert {e.get_type() for e in events} == {OUTLIER_TYPE}
    flags = [e.get_data()["data"]["is_outlier"] for e in events]
    assert [1, 1] in flags
    in_distribution = sum(sum(f) for f in flags if f != [1, 1])
    assert in_distribution <= 6  # about 0.5% of 200 expected
    assert registry.get_sample_value("zeroserve_detector_instances_total") == 202


async def test_fit_first_builds_the_reference_from_the_stream_and_duplicates_are_ignored() -> None:
    service = DetectorService("drift", build_method("drift", window=100), fit_first=300)
    async with serve(service) as server, httpx.AsyncClient(base_url=server.url) as client:
        rows = iris_like(400, seed=7)
        answers = [
            (await post(client, "/", request_event(rows[start : start + 50]))).status_code
            for start in range(0, 400, 50)
        ]
        duplicate = request_event(rows[:100])
        assert (await post(client, "/", duplicate)).status_code == 200  # fills the next window of 100
        assert (await post(client, "/", duplicate)).status_code == 202  # same id again: not tested twice
    assert answers == [202] * 7 + [200]  # 300 fit, then one window of 100
    assert service.method is not None and service.method.reference.shape == (300, 4)


async def test_bad_events_get_4xx_with_a_message() -> None:
    service = DetectorService("outlier", build_method("outlier"), reference=iris_like(100, seed=1))
    async with serve(service) as server, httpx.AsyncClient(base_url=server.url) as client:
        plain = await client.post("/", json={"instances": [[1, 2, 3, 4]]})
        text = LibEvent(
            attributes={"type": REQUEST, "source": "s", "datacontenttype": "text/plain"}, data="hello"
        )
        wrong_type = LibEvent(
            attributes={"type": "com.example.other", "source": "s"}, data={"instances": [[1]]}
        )
        no_instances = LibEvent(attributes={"type": REQUEST, "source": "s"}, data={"rows": [[1, 2, 3, 4]]})
        features = request_event(np.ones((2, 3)))
        structured = to_structured_event(request_event(np.ones((1, 4))))
        answers = {
            "plain": plain,
            "text": await post(client, "/", text),
            "type": await post(client, "/", wrong_type),
            "payload": await post(client, "/", no_instances),
            "features": await post(client, "/", features),
            "structured-ok": await client.post("/", headers=structured.headers, content=structured.body),
        }
    codes = {name: r.status_code for name, r in answers.items()}
    assert codes == {
        "plain": 400,
        "text": 415,
        "type": 400,
        "payload": 400,
        "features": 400,
        "structured-ok": 200,
    }
    assert "not a CloudEvent" in answers["plain"].json()["error"]
    assert "JSON" in answers["text"].json()["error"]
    assert "instances" in answers["payload"].json()["error"]
    assert json.loads(answers["features"].content)["error"].startswith("instances have 3 features")


def test_mmd_drift_flags_the_shifted_window_only() -> None:
    detector = MMDDriftDetector(iris_like(1000, seed=1), window=500, permutations=50)
    results = detector.update(iris_like(1000, seed=2)) + detector.update(iris_like(1000, seed=3, shift=0.8))
    assert [r.is_drift for r in results] == [0, 0, 1, 1]
    assert results[2].distance[0] > 10 * results[0].distance[0]


async def test_drift_service_with_the_mmd_test() -> None:
    service = DetectorService(
        "drift", build_method("drift", test="mmd", window=200), reference=iris_like(500, seed=1)
    )
    async with serve(service) as server, httpx.AsyncClient(base_url=server.url) as client:
        same = await post(client, "/", request_event(iris_like(200, seed=2)))
        shifted = await post(client, "/", request_event(iris_like(200, seed=3, shift=1.0)))
    assert same.json()["data"]["is_drift"] == 0 and shifted.json()["data"]["is_drift"] == 1
