"""Every model server is a Seldon prepackaged server: ``zeroserve serve sklearn`` answers Seldon's
``/api/v1.0/predictions``, ``/api/v1.0/feedback`` and ``seldon.protos.Model/Predict``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf import json_format

from zeroserve.protos import seldon_prediction_pb2 as pb
from zeroserve.protos import seldon_prediction_pb2_grpc as pb_grpc
from zeroserve.servers.testing import ServedProcess, serve_in_subprocess, train_iris_sklearn

ROWS = [[6.8, 2.8, 4.8, 1.4], [5.1, 3.5, 1.4, 0.2]]


@pytest.fixture(scope="module")
def sklearn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    folder = Path(tmp_path_factory.mktemp("iris"))
    train_iris_sklearn(folder)
    with serve_in_subprocess(["sklearn", "--model-name", "iris", "--model-dir", str(folder)]) as served:
        yield served


def test_sklearn_server_answers_seldon_rest(sklearn_server: ServedProcess) -> None:
    url = sklearn_server.http_url
    r = httpx.post(
        url + "/api/v1.0/predictions",
        json={"data": {"ndarray": ROWS}, "meta": {"puid": "q"}},
        trust_env=False,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"data": {"names": [], "ndarray": [1, 0]}, "meta": {"puid": "q"}}
    r = httpx.post(
        url + "/api/v1.0/predictions",
        json={"data": {"tensor": {"shape": [1, 4], "values": ROWS[0]}}},
        trust_env=False,
    )
    assert r.json()["data"] == {"names": [], "tensor": {"shape": [1], "values": [1]}}
    fb = {"request": {"data": {"ndarray": ROWS}}, "response": r.json(), "reward": 1}
    r = httpx.post(url + "/api/v1.0/feedback", json=fb, trust_env=False)
    assert r.status_code == 200 and r.json() == {"data": {"names": [], "ndarray": []}, "meta": {}}
    bad = httpx.post(url + "/api/v1.0/predictions", json={"strData": "x"}, trust_env=False)
    assert bad.status_code == 400 and bad.json()["status"]["status"] == "FAILURE"
    assert "prepackaged server" in bad.json()["status"]["info"]


def test_sklearn_server_answers_seldon_grpc(sklearn_server: ServedProcess) -> None:
    with grpc.insecure_channel(sklearn_server.grpc_target) as channel:
        reply = pb_grpc.ModelStub(channel).Predict(
            json_format.ParseDict({"data": {"ndarray": ROWS}}, pb.SeldonMessage())
        )
    assert json_format.MessageToDict(reply.data) == {"ndarray": [1.0, 0.0]}
