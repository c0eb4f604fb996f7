"""SeldonDeployments on ``zeroserve up`` with real kubectl: Seldon-style YAML in, predictions out.

One platform for the module (API server, controller, engine). The samples' user images map, through
an extra image table, to ``zeroserve serve seldon <Class> --model-dir examples/``; the sklearn
deployment's ``modelUri`` is a model trained here.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support.waiting import wait_until

from zeroserve.local.testing import PlatformProcess, platform_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples" / "seldon"
EXAMPLES = Path(__file__).parent / "examples"
COMPONENTS = [
    "zeroserve.local.controller:ControllerComponent",
    "zeroserve.local.engine.component:EngineComponent",
]
SELDON_VENV = Path(__file__).resolve().parents[2] / ".venv-seldon"
CLASSES = ("Doubler", "Adder", "Picker", "Summer", "Scaler", "Negator")


@pytest.fixture(scope="module")
def feedback_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feedback") / "picker.jsonl"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, feedback_log: Path) -> Iterator[PlatformProcess]:
    folder = tmp_path_factory.mktemp("platform")
    images = {
        f"zeroserve-examples/seldon-{name.lower()}": {
            "command": ["python", "-m", "zeroserve", "serve", "seldon", name, "--model-dir", str(EXAMPLES)]
        }
        for name in CLASSES
    }
    table = folder.parent / "seldon-images.yaml"
    table.write_text(yaml.safe_dump({"images": images}))
    env = {"ZEROSERVE_ENGINE_IMAGES_FILE": str(table), "PICKER_FEEDBACK_FILE": str(feedback_log)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        with platform_process(folder, components=COMPONENTS) as running:
            yield running


@pytest.fixture(scope="module")
def gateway(platform: PlatformProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=str(platform.info["extra"]["gateway_url"]), timeout=60, trust_env=False
    ) as client:
        yield client


@pytest.fixture(scope="module")
def deployed(platform: PlatformProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from zeroserve.servers.testing import train_iris_sklearn

    model = train_iris_sklearn(tmp_path_factory.mktemp("iris"))
    sklearn = yaml.safe_load((SAMPLES / "sklearn.yaml").read_text())
    sklearn["spec"]["predictors"][0]["graph"]["modelUri"] = str(model)
    del sklearn["spec"]["predictors"][0]["graph"]["logger"]
    names = ["router", "transformers", "combiner", "bandit", "canary"]
    documents = [yaml.safe_load((SAMPLES / f"{n}.yaml").read_text()) for n in names] + [sklearn]
    platform.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(documents))
    states: dict[str, Any] = {}

    def available() -> bool:
        for doc in documents:
            name = doc["metadata"]["name"]
            found = platform.kubectl.json("get", "sdep", name)
            states[name] = found.get("status", {})
        return all(s.get("state") == "Available" for s in states.values())

    wait_until(available, 120, what="every SeldonDeployment to be Available", interval=0.5, retry_on=())
    return states


def predict(
    gateway: httpx.Client, sdep: str, body: dict[str, Any], *, by_path: bool = True
) -> httpx.Response:
    if by_path:
        return gateway.post(f"/seldon/default/{sdep}/api/v1.0/predictions", json=body)
    return gateway.post("/api/v1.0/predictions", json=body, headers={"Host": f"{sdep}.default.example.com"})


def test_status_and_kubectl(platform: PlatformProcess, deployed: dict[str, Any]) -> None:
    status = deployed["seldon-router"]
    assert status["address"]["url"] == "http://seldon-router.default.svc.cluster.local/api/v1.0/predictions"
    assert set(status["deploymentStatus"]) == {
        "seldon-router-default",
        "seldon-router-default-picker",
        "seldon-router-default-doubler",
        "seldon-router-default-adder",
    }
    listing = platform.kubectl("get", "sdep").stdout
    assert "seldon-router" in listing and "Available" in listing
    explained = platform.kubectl("explain", "seldondeployment.spec.predictors").stdout
    assert "componentSpecs" in explained


def test_graphs_through_the_gateway_by_path_and_host(gateway: httpx.Client, deployed: dict[str, Any]) -> None:
    reply = predict(gateway, "seldon-router", {"data": {"ndarray": [[1, 2]]}})
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["ndarray"] == [[2.0, 3.0]]
    assert reply.json()["meta"]["routing"] == {"picker": 1}
    reply = predict(gateway, "seldon-router", {"data": {"ndarray": [[0, 2]]}}, by_path=False)
    assert reply.json()["data"]["ndarray"] == [[0.0, 4.0]]
    reply = predict(gateway, "seldon-transformers", {"data": {"ndarray": [[1.0]]}})
    assert reply.json()["data"]["ndarray"] == [[-20.0]]  # -(2 * (10 * 1))
    reply = predict(gateway, "seldon-combiner", {"data": {"ndarray": [[1.0]]}}, by_path=False)
    assert reply.json()["data"]["ndarray"] == [[4.0]]  # 2 + (1 + 1)
    reply = predict(gateway, "iris-model", {"data": {"ndarray": [[6.8, 2.8, 4.8, 1.4]]}})
    assert reply.status_code == 200, reply.text
    assert reply.json()["meta"]["requestPath"] == {"classifier": "SKLEARN_SERVER"}


def test_canary_splits_75_25(gateway: httpx.Client, deployed: dict[str, Any]) -> None:
    answers = [predict(gateway, "seldon-canary", {"data": {"ndarray": [[3.0]]}}).json() for _ in range(80)]
    main = sum(1 for a in answers if a["data"]["ndarray"] == [[6.0]])  # the doubler
    canary = sum(1 for a in answers if a["data"]["ndarray"] == [[4.0]])  # the adder
    assert main + canary == 80
    assert 45 <= main <= 75, (main, canary)  # 60 expected; binomial bounds ~ +-3.5 sd


def test_feedback_reaches_the_router(
    gateway: httpx.Client, deployed: dict[str, Any], feedback_log: Path
) -> None:
    answer = predict(gateway, "seldon-router", {"data": {"ndarray": [[0, 5]]}}).json()
    reply = gateway.post(
        "/seldon/default/seldon-router/api/v1.0/feedback", json={"response": answer, "reward": 1}
    )
    assert reply.status_code == 200, reply.text
    records = wait_until(
        lambda: (
            feedback_log.exists() and [json.loads(line) for line in feedback_log.read_text().splitlines()]
        ),
        20,
        what="the router's send_feedback",
        retry_on=(ValueError,),
    )
    assert records[-1] == {"reward": 1, "routing": 0}


def test_seldon_client_in_gateway_mode(
    platform: PlatformProcess, deployed: dict[str, Any], feedback_log: Path
) -> None:
    python = SELDON_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{SELDON_VENV} is absent: run hack/clients/seldon.sh")
    gateway = str(platform.info["extra"]["gateway_url"]).removeprefix("http://").rstrip("/")
    done = subprocess.run(
        [str(python), str(Path(__file__).parent / "seldon_gateway_script.py"), gateway, "seldon-router"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers["predict"]["success"], answers
    response = answers["predict"]["response"]
    assert response["data"]["ndarray"] == [[0.0, 14.0]]
    assert response["meta"]["routing"] == {"picker": 0}
    assert answers["feedback"]["success"], answers
    records = wait_until(
        lambda: [
            json.loads(line) for line in feedback_log.read_text().splitlines() if '"routing": 0' in line
        ],
        20,
        what="the router's send_feedback from SeldonClient",
        retry_on=(ValueError, OSError),
    )
    assert records[-1] == {"reward": 1.0, "routing": 0}


def test_seldon_client_in_gateway_mode_over_grpc(
    platform: PlatformProcess, deployed: dict[str, Any], feedback_log: Path
) -> None:
    python = SELDON_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{SELDON_VENV} is absent: run hack/clients/seldon.sh")
    gateway = str(platform.info["extra"]["gateway_url"]).removeprefix("http://").rstrip("/")
    script = str(Path(__file__).parent / "seldon_gateway_script.py")
    done = subprocess.run(
        [str(python), script, gateway, "seldon-router", "grpc"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers["predict"]["success"], answers
    response = answers["predict"]["response"]
    assert response["data"]["ndarray"] == [[0.0, 14.0]]
    assert response["meta"]["routing"] == {"picker": 0}
    assert set(response["meta"]["requestPath"]) == {"picker", "doubler"}
    assert len(response["meta"]["puid"]) == 26
    assert answers["feedback"]["success"], answers
    assert answers["feedback"]["response"]["meta"]["routing"] == {"picker": 0}
    puid = response["meta"]["puid"]
    records = wait_until(
        lambda: [json.loads(line) for line in feedback_log.read_text().splitlines()],
        20,
        what="the router's send_feedback from SeldonClient over gRPC",
        retry_on=(ValueError, OSError),
    )
    assert {"reward": 1.0, "routing": 0} in records, (puid, records[-3:])


def test_grpc_through_the_gateway_by_metadata_splits_and_fails_clearly(
    platform: PlatformProcess, deployed: dict[str, Any]
) -> None:
    import grpc

    from zeroserve.protos import seldon_prediction_pb2 as pb

    gateway = str(platform.info["extra"]["gateway_url"]).removeprefix("http://").rstrip("/")
    with grpc.insecure_channel(gateway) as channel:
        call = channel.unary_unary(
            "/seldon.protos.Seldon/Predict",
            request_serializer=lambda m: m if isinstance(m, bytes) else m.SerializeToString(),
            response_deserializer=pb.SeldonMessage.FromString,
        )
        request = pb.SeldonMessage(data=pb.DefaultData(tensor=pb.Tensor(shape=[1, 1], values=[3.0])))
        metadata = (("seldon", "seldon-canary"), ("namespace", "default"))
        values = [call(request, metadata=metadata, timeout=60).data.tensor.values[0] for _ in range(40)]
        main, canary = values.count(6.0), values.count(4.0)  # the doubler, the adder
        assert main + canary == 40, values
        assert 20 <= main <= 39, (main, canary)  # 30 expected: the 75/25 weights, drawn per call
        with pytest.raises(grpc.RpcError) as caught:
            call(b"\xff\xff not protobuf", metadata=metadata, timeout=60)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        trailers = dict(caught.value.trailing_metadata() or ())
        status = pb.Status.FromString(trailers["seldon-status-bin"])
        assert (status.code, status.status) == (400, pb.Status.FAILURE)
        with pytest.raises(grpc.RpcError) as caught:
            call(request, metadata=(("seldon", "no-such-sdep"),), timeout=60)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_transport_grpc_calls_components_over_grpc(
    platform: PlatformProcess, gateway: httpx.Client, deployed: dict[str, Any], feedback_log: Path
) -> None:
    import grpc

    from zeroserve.protos import seldon_prediction_pb2 as pb

    sdep = yaml.safe_load((SAMPLES / "router.yaml").read_text())
    sdep["metadata"]["name"] = "router-grpc"
    sdep["spec"]["transport"] = "grpc"
    platform.kubectl("apply", "-f", "-", input=yaml.safe_dump(sdep))
    wait_until(
        lambda: (
            platform.kubectl.json("get", "sdep", "router-grpc").get("status", {}).get("state") == "Available"
        ),
        120,
        what="router-grpc to be Available",
        interval=0.5,
        retry_on=(),
    )
    reply = predict(gateway, "router-grpc", {"data": {"ndarray": [[1, 5]]}})  # REST in, gRPC inside
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["ndarray"] == [[2.0, 6.0]]
    target = str(platform.info["extra"]["gateway_url"]).removeprefix("http://").rstrip("/")
    metadata = (("seldon", "router-grpc"), ("namespace", "default"))
    with grpc.insecure_channel(target) as channel:
        predict_rpc = channel.unary_unary(
            "/seldon.protos.Seldon/Predict",
            request_serializer=pb.SeldonMessage.SerializeToString,
            response_deserializer=pb.SeldonMessage.FromString,
        )
        feedback_rpc = channel.unary_unary(
            "/seldon.protos.Seldon/SendFeedback",
            request_serializer=pb.Feedback.SerializeToString,
            response_deserializer=pb.SeldonMessage.FromString,
        )
        request = pb.SeldonMessage(data=pb.DefaultData(tensor=pb.Tensor(shape=[1, 2], values=[0, 4])))
        answer = predict_rpc(request, metadata=metadata, timeout=60)
        assert list(answer.data.tensor.values) == [0.0, 8.0]  # the doubler
        assert dict(answer.meta.routing) == {"picker": 0}
        sent = pb.Feedback(request=request, response=answer, reward=0.25)
        feedback_rpc(sent, metadata=metadata, timeout=60)
    records = wait_until(
        lambda: [r for r in map(json.loads, feedback_log.read_text().splitlines()) if r["reward"] == 0.25],
        20,
        what="the router's send_feedback over gRPC",
        retry_on=(ValueError, OSError),
    )
    assert records == [{"reward": 0.25, "routing": 0}]


def test_bandit_learns_through_the_graph(gateway: httpx.Client, deployed: dict[str, Any]) -> None:
    chosen = []
    for _ in range(30):
        answer = predict(gateway, "seldon-bandit", {"data": {"ndarray": [[1.0]]}}).json()
        branch = answer["meta"]["routing"]["eg-router"]
        chosen.append(branch)
        reward = 1 if branch == 1 else 0  # the adder is right, the doubler wrong
        gateway.post(
            "/seldon/default/seldon-bandit/api/v1.0/feedback", json={"response": answer, "reward": reward}
        )
    assert chosen[-10:].count(1) >= 7, chosen


def test_invalid_deployment_is_refused_with_the_path(platform: PlatformProcess) -> None:
    bad = yaml.safe_load((SAMPLES / "router.yaml").read_text())
    bad["metadata"]["name"] = "bad-router"
    bad["spec"]["predictors"][0]["graph"]["children"][0]["type"] = "SPLITTER"
    result = platform.kubectl("apply", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert result.returncode != 0
    assert "spec.predictors[0].graph.children[0].type: unknown type 'SPLITTER'" in result.stderr
