"""The wrapper's pieces without a server: parameters, interface names, tftensor, metrics, persistence,
and the command line's failures."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from seldon_support import EXAMPLES, MICROSERVICE

from zeroserve.servers.seldon.custom_metrics import CustomMetrics, validate_metrics
from zeroserve.servers.seldon.errors import SeldonError
from zeroserve.servers.seldon.persistence import Persistence
from zeroserve.servers.seldon.tftensor import from_tftensor, to_tftensor
from zeroserve.servers.seldon.user import ComponentLoadError, parse_parameters, split_interface


def test_parameters_are_typed() -> None:
    params = parse_parameters(
        '[{"name": "i", "value": "3", "type": "INT"}, {"name": "f", "value": "0.5", "type": "FLOAT"},'
        ' {"name": "d", "value": 2, "type": "DOUBLE"}, {"name": "s", "value": "x", "type": "STRING"},'
        ' {"name": "b", "value": "false", "type": "BOOL"},'
        ' {"name": "j", "value": "{\\"k\\": [1]}", "type": "JSON"},'
        ' {"name": "untyped", "value": "v"}]'
    )
    assert params == {"i": 3, "f": 0.5, "d": 2.0, "s": "x", "b": False, "j": {"k": [1]}, "untyped": "v"}
    assert parse_parameters(None) == {} and parse_parameters("") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "--parameters is not JSON"),
        ('{"a": 1}', "must be a JSON list"),
        ('[{"value": 1}]', '--parameters[0] needs "name"'),
        ('[{"name": "n", "value": "x", "type": "INT"}]', "--parameters[0] (n): 'x' is not a valid INT"),
        ('[{"name": "n", "value": "maybe", "type": "BOOL"}]', "is not a valid BOOL"),
        ('[{"name": "n", "value": "1", "type": "COMPLEX"}]', "unknown type 'COMPLEX'"),
    ],
)
def test_bad_parameters_say_which(text: str, message: str) -> None:
    with pytest.raises(ComponentLoadError, match=None) as err:
        parse_parameters(text)
    assert message in str(err.value)


def test_interface_names() -> None:
    assert split_interface("Model") == ("Model", "Model")
    assert split_interface("pkg.mod.Klass") == ("pkg.mod", "Klass")
    assert split_interface("pkg.mod:Klass") == ("pkg.mod", "Klass")


def test_tftensor_round_trip_and_errors() -> None:
    for arr in (
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.array([[1, 2]], dtype=np.int64),
        np.array([True]),
    ):
        back = from_tftensor(to_tftensor(arr))
        assert back.dtype == arr.dtype and np.array_equal(back, arr)
    content = {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}]}, "tensorContent": "AACAPwAAAEA="}
    assert from_tftensor(content).tolist() == [1.0, 2.0]
    filled = {"dtype": "DT_INT32", "tensorShape": {"dim": [{"size": "3"}]}, "intVal": [7]}
    assert from_tftensor(filled).tolist() == [7, 7, 7]
    with pytest.raises(SeldonError, match=r"shape \[2\] needs 2 values, got 3"):
        from_tftensor({"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}]}, "floatVal": [1, 2, 3]})
    with pytest.raises(SeldonError, match=r"dim\[0\].size must be a non-negative integer"):
        from_tftensor({"tensorShape": {"dim": [{"size": "-1"}]}})


def test_custom_metrics_export_and_validation() -> None:
    registry = CollectorRegistry()
    metrics = CustomMetrics(registry)
    items = validate_metrics(
        [
            {"type": "counter", "key": "c", "value": 2, "tags": {"t": 1}},
            {"type": "GAUGE", "key": "g", "value": 5},
            {"type": "TIMER", "key": "t", "value": 3.0},
        ]
    )
    metrics.record(items, "predict")
    metrics.record(items, "predict")
    text = generate_latest(registry).decode()
    assert 'c_total{method="predict",t="1"} 4.0' in text
    assert 'g{method="predict"} 5.0' in text
    assert 't_count{method="predict"} 2.0' in text and 't_bucket{le="+Inf",method="predict"} 2.0' in text
    for bad in (
        [{"type": "X", "key": "k", "value": 1}],
        [{"type": "GAUGE", "key": "bad key", "value": 1}],
        "no",
    ):
        with pytest.raises(SeldonError) as err:
            validate_metrics(bad)
        assert err.value.status_code == 500 and err.value.seldon_reason == "MICROSERVICE_BAD_METRIC"
    with pytest.raises(SeldonError, match="reported as COUNTER before"):
        metrics.record(validate_metrics([{"type": "GAUGE", "key": "c", "value": 1}]), "predict")


class Counter:
    def __init__(self) -> None:
        self.n = 0


def test_persistence_is_atomic_and_private(tmp_path: Path) -> None:
    store = Persistence(tmp_path / "state" / "unit", period=3600)
    assert store.restore() is None
    obj = Counter()
    obj.n = 41
    assert store.save(obj)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.folder.stat().st_mode) == 0o700
    assert [p.name for p in store.folder.iterdir()] == ["component.pickle"]  # no temporary file left
    store.start(obj)
    obj.n = 42
    store.stop(obj)  # the shutdown save
    restored = Persistence(tmp_path / "state" / "unit").restore()
    assert isinstance(restored, Counter) and restored.n == 42
    store.path.write_bytes(b"not a pickle")
    assert store.restore() is None


def test_persistence_across_restarts(tmp_path: Path) -> None:
    """``--persistence 1``: the router's learned rewards survive a restart (saved at SIGTERM)."""
    import httpx
    from seldon_support import start_components

    specs = {
        "ABRouter": (
            ["--persistence", "1", "--persistence-path", str(tmp_path / "p")],
            {"PREDICTIVE_UNIT_ID": "router"},
        )
    }
    feedback = {
        "request": {"data": {"ndarray": [[1.0]]}},
        "response": {"meta": {"routing": {"router": 1}}},
        "reward": 1.0,
    }
    first = start_components(specs, tmp_path)["ABRouter"]
    try:
        r = httpx.post(first.url + "/api/v1.0/feedback", json=feedback, trust_env=False)
        assert r.json()["meta"]["tags"] == {"rewards": [0.0, 1.0]}
    finally:
        first.process.terminate()
        assert first.process.wait(timeout=20) == 0
    assert stat.S_IMODE((tmp_path / "p" / "component.pickle").stat().st_mode) == 0o600
    (tmp_path / "ABRouter.ready").unlink()
    second = start_components(specs, tmp_path)["ABRouter"]
    try:
        r = httpx.post(second.url + "/api/v1.0/feedback", json=feedback, trust_env=False)
        assert r.json()["meta"]["tags"] == {"rewards": [0.0, 2.0]}
    finally:
        second.process.terminate()
        second.process.wait(timeout=20)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["NoSuchModule"], 2, "no module 'NoSuchModule'"),
        (["IrisModel.Nope"], 2, "has no class 'Nope'"),
        (["IrisModel", "--parameters", "[1]"], 2, '--parameters[0] needs "name"'),
        (["IrisModel", "--parameters", '[{"name": "nope", "value": "1"}]'], 1, "could not be created"),
    ],
)
def test_command_line_failures(args: list[str], code: int, message: str) -> None:
    done = subprocess.run(
        [str(MICROSERVICE), *args, "--http-port", "0", "--grpc-port", "-1"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_zeroserve_serve_seldon_with_a_metrics_port(tmp_path: Path) -> None:
    """``zeroserve serve seldon MODULE:CLASS --model-dir DIR``, metrics also on Seldon's metrics port."""
    import socket

    import httpx

    from zeroserve.servers.testing import serve_in_subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        metrics_port = s.getsockname()[1]
    args = ["seldon", "MetricsModel:MetricsModel", "--model-dir", str(EXAMPLES), "--model-name", "m"]
    env = {"PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(metrics_port)}
    with serve_in_subprocess(args, env=env, cwd=tmp_path) as served:
        r = httpx.post(
            served.http_url + "/api/v1.0/predictions", json={"data": {"ndarray": [[1]]}}, trust_env=False
        )
        assert r.status_code == 200 and r.json()["data"]["ndarray"] == [[1]]
        v1 = {"instances": [[1, 2]]}
        r = httpx.post(served.http_url + "/v1/models/m:predict", json=v1, trust_env=False)
        assert r.status_code == 200 and r.json() == {"predictions": [[1, 2]]}  # KServe V1 as well
        v2 = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [3, 4]}]}
        r = httpx.post(served.http_url + "/v2/models/m/infer", json=v2, trust_env=False)
        assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [3, 4]  # and V2
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/prometheus", trust_env=False).text
        assert 'mycounter_total{method="predict"} 3.0' in text  # Seldon, V1 and V2 predictions
