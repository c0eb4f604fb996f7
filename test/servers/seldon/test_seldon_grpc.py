"""The ``prediction.proto`` services on a component's gRPC port, checked field by field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format
from seldon_support import Component

from zeroserve.protos import seldon_prediction_pb2 as pb
from zeroserve.protos import seldon_prediction_pb2_grpc as pb_grpc


@pytest.fixture(scope="module")
def channels(components: dict[str, Component]) -> Iterator[dict[str, grpc.Channel]]:
    opened = {name: grpc.insecure_channel(c.grpc_target) for name, c in components.items()}
    yield opened
    for channel in opened.values():
        channel.close()


def msg(doc: dict[str, Any]) -> Any:
    return json_format.ParseDict(doc, pb.SeldonMessage())


def as_dict(message: Any) -> dict[str, Any]:
    return dict(json_format.MessageToDict(message))


def test_model_and_seldon_services_predict(channels: dict[str, grpc.Channel]) -> None:
    request = msg(
        {
            "data": {"names": ["a", "b", "c"], "tensor": {"shape": [1, 3], "values": [1, 2, 3]}},
            "meta": {"puid": "g1"},
        }
    )
    for stub in (pb_grpc.ModelStub(channels["IrisModel"]), pb_grpc.SeldonStub(channels["IrisModel"])):
        reply = stub.Predict(request)
        assert list(reply.data.names) == ["setosa", "versicolor", "virginica"]
        assert list(reply.data.tensor.shape) == [1, 3] and list(reply.data.tensor.values) == [3.0, 5.0, 7.0]
        assert reply.meta.puid == "g1"
        assert reply.status.status == pb.Status.SUCCESS
    reply = pb_grpc.ModelStub(channels["IrisModel"]).Predict(pb.SeldonMessage(strData="abc"))
    assert reply.strData == "ABC"
    reply = pb_grpc.ModelStub(channels["IrisModel"]).Predict(pb.SeldonMessage(binData=b"xyz"))
    assert reply.binData == b"zyx"
    tf = {"dtype": "DT_INT32", "tensorShape": {"dim": [{"size": "1"}, {"size": "2"}]}, "intVal": [1, 2]}
    reply = pb_grpc.ModelStub(channels["IrisModel"]).Predict(msg({"data": {"tftensor": tf}}))
    assert as_dict(reply.data.tftensor) == {
        "dtype": "DT_DOUBLE",
        "tensorShape": {"dim": [{"size": "1"}, {"size": "2"}]},
        "doubleVal": [3.0, 5.0],
    }


def test_metadata_rpcs(channels: dict[str, grpc.Channel]) -> None:
    meta = pb_grpc.ModelStub(channels["IrisModel"]).Metadata(empty_pb2.Empty())
    assert meta.name == "iris" and list(meta.versions) == ["v1"] and meta.platform == "seldon"
    assert dict(meta.custom) == {"author": "zeroserve"}
    assert meta.inputs[0].messagetype == "tensor"
    same = pb_grpc.SeldonStub(channels["IrisModel"]).ModelMetadata(pb.SeldonModelMetadataRequest(name="iris"))
    assert same == meta
    graph = pb_grpc.SeldonStub(channels["IrisModel"]).GraphMetadata(empty_pb2.Empty())
    assert graph.name == "iris" and graph.models["iris"] == meta


def test_graph_role_services(channels: dict[str, grpc.Channel]) -> None:
    route = pb_grpc.RouterStub(channels["ABRouter"]).Route(msg({"data": {"ndarray": [[7.0]]}}))
    assert as_dict(route.data) == {"names": ["t:0"], "ndarray": [[1.0]]}
    generic = pb_grpc.GenericStub(channels["ABRouter"]).Route(msg({"data": {"ndarray": [[-3.0]]}}))
    assert as_dict(generic.data)["ndarray"] == [[-2.0]]
    feedback = pb.Feedback(
        request=msg({"data": {"ndarray": [[1.0]]}}),
        response=msg({"meta": {"routing": {"router": 0}}}),
        reward=0.25,
    )
    reply = pb_grpc.RouterStub(channels["ABRouter"]).SendFeedback(feedback)
    assert json_format.MessageToDict(reply.meta)["tags"]["rewards"][0] == 0.25
    items = pb.SeldonMessageList(
        seldonMessages=[msg({"data": {"ndarray": [[1.0]]}}), msg({"data": {"ndarray": [[3.0]]}})]
    )
    for stub in (
        pb_grpc.CombinerStub(channels["MeanCombiner"]),
        pb_grpc.GenericStub(channels["MeanCombiner"]),
    ):
        assert as_dict(stub.Aggregate(items).data)["ndarray"] == [[2.0]]
    ti = pb_grpc.TransformerStub(channels["ScaleTransformer"]).TransformInput(
        msg({"data": {"ndarray": [[10, 30]]}})
    )
    assert as_dict(ti.data) == {"names": ["a_scaled", "b_scaled"], "ndarray": [[1.0, 3.0]]}
    to = pb_grpc.OutputTransformerStub(channels["LabelOutputTransformer"]).TransformOutput(
        msg({"data": {"ndarray": [[0, 0, 1]]}})
    )
    assert as_dict(to.data)["ndarray"] == [["virginica"]]


def test_metrics_and_tags_over_grpc(channels: dict[str, grpc.Channel]) -> None:
    reply = pb_grpc.ModelStub(channels["MetricsModel"]).Predict(msg({"data": {"ndarray": [[1]]}}))
    metrics = {m.key: (pb.Metric.MetricType.Name(m.type), m.value, dict(m.tags)) for m in reply.meta.metrics}
    assert metrics["mycounter"] == ("COUNTER", 1.0, {})
    assert metrics["mygauge"][0] == "GAUGE" and metrics["mygauge"][2] == {"mytag": "mytagvalue"}
    assert metrics["mytimer"][0] == "TIMER" and abs(metrics["mytimer"][1] - 20.2) < 1e-4


def test_raw_hook_gets_the_protobuf_message(channels: dict[str, grpc.Channel]) -> None:
    reply = pb_grpc.ModelStub(channels["RawModel"]).Predict(msg({"data": {"ndarray": [1]}}))
    assert json_format.MessageToDict(reply)["jsonData"] == {"raw": True, "grpc": True}


def test_grpc_errors(channels: dict[str, grpc.Channel]) -> None:
    stub = pb_grpc.ModelStub(channels["IrisModel"])
    with pytest.raises(grpc.RpcError) as bad:
        stub.Predict(msg({"data": {"tensor": {"shape": [2, 2], "values": [1.0, 2.0]}}}))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert '"data.tensor": shape [2, 2] needs 4 values' in bad.value.details()
    with pytest.raises(grpc.RpcError) as empty:
        stub.Predict(pb.SeldonMessage())
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "has no data" in empty.value.details()
    with pytest.raises(grpc.RpcError) as failed:
        stub.Predict(msg({"data": {"ndarray": [[-5000.0]]}}))
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert failed.value.details() == "the component's predict() failed: values below -1000 are not supported"
    with pytest.raises(grpc.RpcError) as missing:
        pb_grpc.RouterStub(channels["IrisModel"]).Route(msg({"data": {"ndarray": [[1]]}}))
    assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED
    raw = channels["IrisModel"].unary_unary("/seldon.protos.Model/Predict")
    with pytest.raises(grpc.RpcError) as corrupt:
        raw(b"\xff\xff\xff")
    assert corrupt.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "seldon.protos.SeldonMessage" in corrupt.value.details()
