"""``log_url`` wraps the app with the payload logger: CloudEvents reach a real sink server."""

from __future__ import annotations

import httpx
from sample_models import SinkModel, SumModel
from servers_support import serve_in_background

from zeroserve.logger.middleware import PayloadLoggerMiddleware
from zeroserve.servers import ModelServer, ServerSettings


def test_app_is_wrapped_only_when_log_url_is_set() -> None:
    plain = ModelServer(ServerSettings(http_port=0, grpc_port=-1)).create_application()
    assert not isinstance(plain, PayloadLoggerMiddleware)
    wrapped = ModelServer(
        ServerSettings(http_port=0, grpc_port=-1, log_url="http://127.0.0.1:9/sink")
    ).create_application()
    assert isinstance(wrapped, PayloadLoggerMiddleware)


def test_requests_and_responses_reach_the_sink_as_cloudevents() -> None:
    sink_model = SinkModel("sink")
    sink = serve_in_background([sink_model], grpc_port=-1)
    assert sink.handle is not None
    server = serve_in_background(
        [SumModel("iris")],
        grpc_port=-1,
        log_url=f"{sink.handle.url}/v1/models/sink:predict",
        log_mode="all",
        inference_service="iris",
        namespace="default",
    )
    try:
        assert server.handle is not None
        r = httpx.post(
            f"{server.handle.url}/v1/models/iris:predict", json={"instances": [[1, 2]]}, trust_env=False
        )
        assert r.json() == {"predictions": [3.0]}
        events = sink_model.wait_for(2)
        by_type = {ce["ce-type"]: (ce, payload) for ce, payload in events}
        request_ce, request_payload = by_type["org.kubeflow.serving.inference.request"]
        response_ce, response_payload = by_type["org.kubeflow.serving.inference.response"]
        assert request_payload == {"instances": [[1, 2]]}
        assert response_payload == {"predictions": [3.0]}
        assert request_ce["ce-id"] == response_ce["ce-id"]
        assert request_ce["ce-inferenceservicename"] == "iris"
        assert request_ce["ce-namespace"] == "default"
    finally:
        server.stop()
        sink.stop()
