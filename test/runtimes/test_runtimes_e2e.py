"""End to end, one platform for the module: every built-in runtime chosen from the ClusterServingRuntimes
``zeroserve up`` installs, for an InferenceService written as KServe documents it, applied with real
kubectl, Ready, and answering V1 and V2 REST through the gateway with what the framework predicted
in-process; a user's ServingRuntime chosen over them; NoSupportingRuntime naming what would work."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from support.crd_schema import crd_file_validator
from support.platform import in_thread_platform
from support.waiting import wait_until, wait_until_async

from zeroserve.local.component import PlatformContext
from zeroserve.local.testing import Kubectl
from zeroserve.servers.samples import Sample

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


# name, predictor (as KServe documents it; {uri} filled in), V1 model name, V2 model name, runtime
ROWS: list[tuple[str, dict[str, Any], str | None, str | None, str]] = [
    (
        "sk",
        {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "{uri}"}},
        "sk",
        "sk",
        "kserve-sklearnserver",
    ),
    ("xgb", {"xgboost": {"storageUri": "{uri}"}}, "xgb", "xgb", "kserve-xgbserver"),
    (
        "lgb",
        {"model": {"modelFormat": {"name": "lightgbm"}, "storageUri": "{uri}"}},
        "lgb",
        "lgb",
        "kserve-lgbserver",
    ),
    (
        "onnx",
        {"model": {"modelFormat": {"name": "onnx"}, "protocolVersion": "v2", "storageUri": "{uri}"}},
        "onnx",
        "onnx",
        "zeroserve-onnx",
    ),
    (
        "paddle",
        {"model": {"modelFormat": {"name": "paddle"}, "storageUri": "{uri}"}},
        "paddle",
        "paddle",
        "kserve-paddleserver",
    ),
    (
        "pmml",
        {"model": {"modelFormat": {"name": "pmml"}, "storageUri": "{uri}"}},
        "pmml",
        "pmml",
        "kserve-pmmlserver",
    ),
    (
        "tf",
        {"model": {"modelFormat": {"name": "tensorflow"}, "storageUri": "{uri}"}},
        "tf",
        "tf",
        "kserve-tensorflow-serving",
    ),
    (
        "ts",
        {"model": {"modelFormat": {"name": "pytorch"}, "storageUri": "{uri}"}},
        "iris",
        "iris",
        "kserve-torchserve",
    ),
    (
        "triton",
        {"model": {"modelFormat": {"name": "triton"}, "protocolVersion": "v2", "storageUri": "{uri}"}},
        None,
        "iris-onnx",
        "kserve-tritonserver",
    ),
    (
        "mls",
        {
            "model": {
                "modelFormat": {"name": "sklearn", "version": "1"},
                "runtime": "kserve-mlserver",
                "protocolVersion": "v2",
                "storageUri": "{uri}",
            }
        },
        None,
        "mls",
        "kserve-mlserver",
    ),
]

USER_RUNTIME = {
    "apiVersion": "serving.kserve.io/v1alpha1",
    "kind": "ServingRuntime",
    "metadata": {"name": "my-sklearn", "namespace": "team"},
    "spec": {
        "supportedModelFormats": [{"name": "sklearn", "version": "1", "autoSelect": True, "priority": 1}],
        "protocolVersions": ["v1", "v2"],
        "containers": [
            {
                "name": "kserve-container",
                "image": "ghcr.io/zeroserve/zeroserve:latest",
                "args": ["serve", "sklearn", "--model_name=custom-{{.Name}}", "--model_dir=/mnt/models"],
            }
        ],
    },
}


def _platform(tmp: Path) -> contextlib.AbstractAsyncContextManager[tuple[PlatformContext, Kubectl]]:
    return in_thread_platform(tmp, ready_timeout=60.0)


def _isvc(name: str, predictor: dict[str, Any], uri: str, namespace: str = "default") -> dict[str, Any]:
    text = json.dumps(predictor).replace("{uri}", uri)
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"predictor": json.loads(text)},
    }


def _trained_model(name: str, isvc: str, uri: str, framework: str = "sklearn") -> dict[str, Any]:
    model = {"storageUri": uri, "framework": framework, "memory": "100Mi"}
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "TrainedModel",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"inferenceService": isvc, "model": model},
    }


def _close(got: Any, want: Any, tolerance: float) -> bool:
    if isinstance(want, dict):
        return isinstance(got, dict) and all(_close(got.get(k), v, tolerance) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(_close(g, w, tolerance) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, int | float) and not isinstance(want, bool):
        return isinstance(got, int | float) and abs(got - want) <= max(tolerance, 1e-9) * max(1.0, abs(want))
    return bool(got == want)


def _v2_matches(outputs: list[dict[str, Any]], sample: Sample) -> bool:
    want = sample.expected
    if want and isinstance(want[0], dict):  # one output per key, rows stacked
        by_name = {o["name"]: o for o in outputs}
        for key in want[0]:
            if key not in by_name:
                continue
            data = np.reshape(by_name[key]["data"], by_name[key]["shape"]).tolist()
            if not _close(data, [row[key] for row in want], sample.tolerance):
                return False
        return any(key in by_name for key in want[0])
    name = sample.extra.get("v2_output")
    out = next((o for o in outputs if o["name"] == name), outputs[0])
    data = np.reshape(out["data"], out["shape"]).tolist()
    return _close(data, want, sample.tolerance) or _close(np.ravel(data).tolist(), want, sample.tolerance)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("runtimes")
    script = Path(__file__).with_name("build_samples.py")
    # built in a child: the frameworks (tensorflow, lightgbm's ctypes logger) stay out of this process
    subprocess.run([sys.executable, str(script), str(tmp / "models")], check=True, timeout=300)
    samples = {
        name: Sample(**{**row, "model_dir": Path(row["model_dir"])})
        for name, row in json.loads((tmp / "models" / "samples.json").read_text()).items()
    }
    loop = asyncio.new_event_loop()
    manager = _platform(tmp)
    ctx, kubectl = loop.run_until_complete(manager.__aenter__())
    docs = [_isvc(name, predictor, f"file://{samples[name].model_dir}") for name, predictor, *_ in ROWS]
    docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    docs.append(USER_RUNTIME)
    docs.append(
        _isvc(
            "custom",
            {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "{uri}"}},
            f"file://{samples['sk'].model_dir}",
            namespace="team",
        )
    )
    docs.append(
        _isvc("mxnet", {"model": {"modelFormat": {"name": "mxnet"}, "storageUri": "{uri}"}}, "file:///x")
    )
    wrong = tmp / "models" / "paddle-wrong"  # a paddle model folder holding an ONNX file only
    wrong.mkdir()
    shutil.copy(samples["onnx"].model_dir / "model.onnx", wrong)
    docs.append(
        _isvc(
            "paddle-wrong",
            {"model": {"modelFormat": {"name": "paddle"}, "storageUri": "{uri}"}},
            f"file://{wrong}",
        )
    )
    private = _isvc("private", {"sklearn": {"storageUri": "{uri}"}}, f"file://{samples['sk'].model_dir}")
    private["metadata"]["labels"] = {"networking.knative.dev/visibility": "cluster-local"}
    docs.append(private)
    private_graph = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {
            "name": "private-graph",
            "namespace": "default",
            "labels": {"networking.knative.dev/visibility": "cluster-local"},
        },
        "spec": {
            "nodes": {"root": {"routerType": "Sequence", "steps": [{"serviceName": "sk", "name": "sk"}]}}
        },
    }
    docs.append(private_graph)
    mms = {"model": {"modelFormat": {"name": "sklearn"}, "resources": {"limits": {"memory": "1Gi"}}}}
    docs.append(_isvc("mms", mms, ""))
    docs += [_trained_model("tm-iris", "mms", f"file://{samples['sk'].model_dir}")]
    docs += [
        _trained_model("tm-single", "sk", "file:///x"),
        _trained_model("tm-tf", "mms", "file:///x", "tensorflow"),
    ]
    applied = kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs), check=False)
    assert applied.returncode == 0, applied.stderr
    try:
        yield loop, ctx, kubectl, samples
    finally:
        loop.run_until_complete(manager.__aexit__(None, None, None))
        loop.close()


def _status(kubectl: Kubectl, name: str, namespace: str = "default") -> dict[str, Any]:
    status: dict[str, Any] = kubectl.json("get", "isvc", name, "-n", namespace).get("status") or {}
    return status


def _ready_status(kubectl: Kubectl, name: str, namespace: str = "default") -> dict[str, Any] | None:
    status = _status(kubectl, name, namespace)
    return status if _ready(status) else None


def _ready(status: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])


def test_kubectl_lists_the_builtin_cluster_serving_runtimes(platform: Any) -> None:
    _, _, kubectl, _ = platform
    names = {item["metadata"]["name"] for item in kubectl.json("get", "clusterservingruntimes")["items"]}
    assert {"kserve-sklearnserver", "kserve-xgbserver", "kserve-mlserver", "kserve-torchserve"} <= names
    table = kubectl("get", "clusterservingruntimes").stdout
    row = next(line.split() for line in table.splitlines() if line.startswith("kserve-tritonserver "))
    assert row[1:3] == ["tensorflow,tensorflow,onnx,pytorch,triton", "kserve-container"], table


@pytest.mark.parametrize(
    ("name", "v1_model", "v2_model", "runtime"),
    [(r[0], r[2], r[3], r[4]) for r in ROWS],
    ids=[r[4] for r in ROWS],
)
def test_runtime_serves_kserve_yaml(
    platform: Any, name: str, v1_model: str | None, v2_model: str | None, runtime: str
) -> None:
    loop, ctx, kubectl, samples = platform
    sample: Sample = samples[name]

    async def check() -> None:
        status = await wait_until_async(
            lambda: _ready_status(kubectl, name),
            120,
            interval=0.3,
            retry_on=(),
            what=f"{name} Ready",
        )
        assert status is not None
        assert status.get("clusterServingRuntimeName") == runtime and not status.get("servingRuntimeName")
        host = {"Host": f"{name}.default.example.com"}
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=30, headers=host) as client:
            if v1_model is not None:
                got = await client.post(f"/v1/models/{v1_model}:predict", json=sample.v1_request)
                assert got.status_code == 200, got.text
                assert _close(got.json()["predictions"], sample.expected, sample.tolerance), got.text
            if v2_model is not None and sample.v2_request is not None:
                got = await client.post(f"/v2/models/{v2_model}/infer", json=sample.v2_request)
                assert got.status_code == 200, got.text
                assert _v2_matches(got.json()["outputs"], sample), got.text

    loop.run_until_complete(check())


def test_every_runtime_yaml_makes_a_knative_service_knative_accepts(
    platform: Any, shared_specs: Path
) -> None:
    """The Knative Service each runtime's InferenceService became validates against Knative's own CRD."""
    _, _, kubectl, _ = platform
    validate = crd_file_validator(shared_specs / "knative-serving" / "service.yaml", "Service", "v1")
    wanted = {f"{name}-predictor" for name, *_ in ROWS}

    def built() -> dict[str, Any] | None:
        items = kubectl.json("get", "ksvc", "-n", "default")["items"]
        services = {item["metadata"]["name"]: item for item in items}
        return services if wanted <= services.keys() else None

    services = wait_until(built, 60, what="every runtime's Knative Service")
    for name in sorted(wanted):
        assert validate(services[name]) == [], name


def test_a_user_serving_runtime_is_chosen_before_cluster_runtimes(platform: Any) -> None:
    loop, ctx, kubectl, samples = platform

    async def check() -> None:
        status = await wait_until_async(
            lambda: _ready_status(kubectl, "custom", "team"),
            60,
            interval=0.3,
            retry_on=(),
        )
        assert status is not None
        assert status.get("servingRuntimeName") == "my-sklearn"
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=30) as client:
            got = await client.post(
                "/v1/models/custom-custom:predict",  # the runtime's own --model_name template
                json=samples["sk"].v1_request,
                headers={"Host": "custom.team.example.com"},
            )
            assert got.status_code == 200, got.text
            assert got.json()["predictions"] == samples["sk"].expected

    loop.run_until_complete(check())


def test_no_supporting_runtime_says_what_the_runtimes_support(platform: Any) -> None:
    loop, _, kubectl, _ = platform

    def failed() -> dict[str, Any] | None:
        conditions = _status(kubectl, "mxnet").get("conditions") or []
        return next((c for c in conditions if c.get("reason") == "NoSupportingRuntime"), None)

    condition = loop.run_until_complete(wait_until_async(failed, 30, interval=0.2, retry_on=()))
    assert condition is not None
    assert "spec.predictor.model: no runtime supports model format 'mxnet'" in condition["message"]
    assert "kserve-sklearnserver [sklearn:1" in condition["message"]


def test_a_paddle_folder_without_the_model_files_says_which_files_it_expects(platform: Any) -> None:
    loop, _, kubectl, _ = platform

    def failed() -> dict[str, Any] | None:
        conditions = _status(kubectl, "paddle-wrong").get("conditions") or []
        return next((c for c in conditions if "PaddlePaddle" in (c.get("message") or "")), None)

    condition = loop.run_until_complete(
        wait_until_async(failed, 90, interval=0.3, retry_on=(), what="the load error in a condition")
    )
    assert condition is not None and condition["status"] == "False", condition
    message = condition["message"]
    assert "paddle: no PaddlePaddle model in" in message and "it holds model.onnx" in message, message
    assert "<name>.json (Paddle 3) or <name>.pdmodel with its weights <name>.pdiparams" in message, message
    assert "Traceback" not in message and "\n" not in message, message


def test_a_cluster_local_service_is_not_served_on_the_external_host(platform: Any) -> None:
    loop, ctx, kubectl, samples = platform

    async def check() -> None:
        status = await wait_until_async(
            lambda: _ready_status(kubectl, "private"), 60, interval=0.3, retry_on=()
        )
        assert status is not None
        assert status["url"] == "http://private.default.svc.cluster.local"
        route = kubectl.json("get", "httproute", "private")
        assert route["spec"]["hostnames"] == ["private.default.svc.cluster.local"]
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=30) as client:
            body = samples["sk"].v1_request
            outside = await client.post(
                "/v1/models/private:predict", json=body, headers={"Host": "private.default.example.com"}
            )
            assert outside.status_code == 404
            assert "cluster-local" in outside.json()["error"]
            inside = await client.post(
                "/v1/models/private:predict", json=body, headers={"Host": "private.default.svc.cluster.local"}
            )
            assert inside.status_code == 200, inside.text
            assert inside.json()["predictions"] == samples["sk"].expected

    loop.run_until_complete(check())


def test_a_cluster_local_inference_graph_has_only_its_cluster_url(platform: Any) -> None:
    loop, ctx, kubectl, samples = platform

    def ready_graph() -> dict[str, Any] | None:
        status = kubectl.json("get", "inferencegraph", "private-graph").get("status") or {}
        return status if _ready(status) else None

    async def check() -> None:
        status = await wait_until_async(ready_graph, 90, interval=0.3, retry_on=(), what="graph Ready")
        assert status is not None and status["url"] == "http://private-graph.default.svc.cluster.local"
        body = samples["sk"].v1_request
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=30) as client:
            outside = await client.post("/", json=body, headers={"Host": "private-graph.default.example.com"})
            assert outside.status_code == 404
            assert "cluster-local" in outside.json()["error"], outside.text
            inside = await client.post(
                "/", json=body, headers={"Host": "private-graph.default.svc.cluster.local"}
            )
            assert inside.status_code == 200, inside.text
            assert _close(inside.json()["predictions"], samples["sk"].expected, samples["sk"].tolerance)

    loop.run_until_complete(check())


def test_kubectl_explain_lists_kserve_predictor_fields_with_descriptions(platform: Any) -> None:
    _, _, kubectl, _ = platform
    out = kubectl("explain", "inferenceservice.spec.predictor").stdout
    for field in ("model", "sklearn", "containers", "serviceAccountName", "minReplicas", "nodeSelector"):
        assert f"  {field}\t" in out, (field, out)
    assert "DESCRIPTION" in out and len(out.splitlines()) > 20
    out = kubectl("explain", "clusterservingruntime.spec.supportedModelFormats").stdout
    assert "autoSelect" in out and "highest priority wins" in out


def test_trained_models_on_a_running_multi_model_predictor(platform: Any) -> None:
    loop, _, kubectl, _ = platform

    def conditions(name: str) -> dict[str, dict[str, Any]]:
        status = kubectl.json("get", "trainedmodel", name).get("status") or {}
        return {c["type"]: c for c in status.get("conditions") or []}

    def settled(name: str, kind: str, value: str) -> dict[str, dict[str, Any]] | None:
        found = conditions(name)
        return found if (found.get(kind) or {}).get("status") == value else None

    ready = loop.run_until_complete(
        wait_until_async(lambda: settled("tm-iris", "Ready", "True"), 90, interval=0.3, retry_on=())
    )
    assert ready is not None and all(c["status"] == "True" for c in ready.values())
    tm = kubectl.json("get", "tm", "tm-iris")
    assert tm["status"]["url"] == "http://mms.default.example.com/v1/models/tm-iris:predict"
    config = kubectl.json("get", "configmap", "modelconfig-mms-0")
    assert [e["modelName"] for e in json.loads(config["data"]["models.json"])] == ["tm-iris"]
    single = loop.run_until_complete(
        wait_until_async(
            lambda: settled("tm-single", "IsMMSPredictor", "False"), 30, interval=0.3, retry_on=()
        )
    )
    assert single is not None and single["IsMMSPredictor"]["reason"] == "IsNotMMSPredictor"
    wrong = loop.run_until_complete(
        wait_until_async(
            lambda: settled("tm-tf", "FrameworkSupported", "False"), 30, interval=0.3, retry_on=()
        )
    )
    assert wrong is not None and "spec.model.framework" in wrong["FrameworkSupported"]["message"]


def test_a_trained_model_is_loaded_from_its_config_map_and_unloaded_on_delete(platform: Any) -> None:
    """The engine projects ``modelconfig-mms-0`` at ``/mnt/configs``; the server's watcher loads it."""
    loop, ctx, kubectl, samples = platform
    sample: Sample = samples["sk"]

    async def check() -> None:
        host = {"Host": "mms.default.example.com"}
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=30, headers=host) as client:

            async def predict(code: int) -> httpx.Response | None:
                got = await client.post("/v1/models/tm-iris:predict", json=sample.v1_request)
                return got if got.status_code == code else None

            got = await wait_until_async(lambda: predict(200), 90, interval=0.3, retry_on=(), what="loaded")
            assert got is not None
            assert _close(got.json()["predictions"], sample.expected, sample.tolerance), got.text
            await asyncio.to_thread(kubectl, "delete", "trainedmodel", "tm-iris")
            gone = await wait_until_async(lambda: predict(404), 30, interval=0.3, retry_on=(), what="gone")
            assert gone is not None and "tm-iris" in gone.text

    loop.run_until_complete(check())


def _grpc_inputs(request: dict[str, Any]) -> list[Any]:
    """The V2 REST request's inputs as tritonclient gRPC tensors."""
    import tritonclient.grpc as triton

    tensors = []
    for item in request["inputs"]:
        datatype = str(item["datatype"])
        if datatype == "BYTES":
            values = [v.encode() if isinstance(v, str) else v for v in np.ravel(item["data"]).tolist()]
            array = np.array(values, dtype=np.object_).reshape(item["shape"])
        else:
            array = np.asarray(item["data"], dtype=triton.triton_to_np_dtype(datatype)).reshape(item["shape"])
        tensor = triton.InferInput(str(item["name"]), list(item["shape"]), datatype)
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return tensors


@pytest.mark.parametrize(
    ("name", "v2_model"), [(row[0], row[3]) for row in ROWS if row[3] is not None], ids=lambda v: str(v)
)
def test_runtime_answers_v2_grpc_through_the_gateway(platform: Any, name: str, v2_model: str) -> None:
    """tritonclient gRPC by ``:authority`` through the gateway answers as V2 REST does."""
    import tritonclient.grpc as triton

    loop, ctx, kubectl, samples = platform
    sample: Sample = samples[name]
    if sample.v2_request is None:
        pytest.skip(f"{name}: the sample has no V2 request")
    status = loop.run_until_complete(
        wait_until_async(lambda: _ready_status(kubectl, name), 120, interval=0.3, retry_on=(), what=name)
    )
    assert status is not None
    address = ctx.gateway_url.removeprefix("http://").rstrip("/")
    authority = [("grpc.default_authority", f"{name}.default.example.com")]
    client = triton.InferenceServerClient(address, channel_args=authority)
    try:
        # the platform runs on this loop: the blocking client waits in a worker thread meanwhile
        call = asyncio.to_thread(client.infer, v2_model, _grpc_inputs(sample.v2_request), client_timeout=60)
        result = loop.run_until_complete(call)
        outputs = []
        for out in result.get_response(as_json=True)["outputs"]:
            data = result.as_numpy(out["name"])
            values = [v.decode() if isinstance(v, bytes) else v for v in np.ravel(data).tolist()]
            outputs.append({"name": out["name"], "shape": list(data.shape), "data": values})
        assert _v2_matches(outputs, sample), outputs
    finally:
        client.close()
