"""The PaddlePaddle runtime against Paddle in-process: both saved layouts (Paddle 3's ``model.json`` and the
earlier ``.pdmodel``), V1, V2 REST and V2 gRPC, several inputs, and folders that hold no model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from zeroserve.servers.runtimes import (
    AmbiguousModelError,
    ModelFormatError,
    ModelMissingError,
    RuntimeRegistry,
)
from zeroserve.servers.samples import Sample
from zeroserve.servers.samples import paddle as paddle_sample
from zeroserve.servers.testing import ThreadedServer, serve_in_subprocess, serve_in_thread

PAIR_SOURCE = '''
import paddle


class Pair(paddle.nn.Layer):
    """Two inputs ``a``, ``b`` ([N, 2] float32); outputs their sum and their product (times one weight)."""

    def __init__(self):
        super().__init__()
        one = paddle.nn.initializer.Constant(1.0)
        self.scale = self.create_parameter([1], default_initializer=one)

    def forward(self, a, b):
        return a + b, a * b * self.scale
'''


def _pair_program(folder: Path) -> Path:
    """Save a two-input, two-output program (Paddle 3 layout) into ``folder``."""
    import importlib.util

    paddle = paddle_sample._paddle()
    source = folder / "pair_layer.py"
    source.write_text(PAIR_SOURCE)
    spec = importlib.util.spec_from_file_location("pair_layer", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    inputs = [paddle.static.InputSpec([None, 2], "float32", name) for name in ("a", "b")]
    model = folder / "model"
    model.mkdir()
    paddle.jit.save(module.Pair(), str(model / "pair"), input_spec=inputs)
    return model


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sample]:
    return {
        "pir": paddle_sample.build(tmp_path_factory.mktemp("paddle-pir")),
        "pdmodel": paddle_sample.build(tmp_path_factory.mktemp("paddle-pdmodel"), legacy=True),
    }


@pytest.fixture(scope="module")
def server(samples: dict[str, Sample], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    registry = RuntimeRegistry.builtin()
    models = [
        registry.create("paddle", "iris-pir", samples["pir"].model_dir),
        registry.create("paddleserver", "iris-pdmodel", samples["pdmodel"].model_dir, {"num_threads": 2}),
        registry.create("paddle", "pair", _pair_program(tmp_path_factory.mktemp("pair"))),
    ]
    with serve_in_thread(models) as srv:
        yield srv


def test_both_layouts_are_written_as_paddle_writes_them(samples: dict[str, Sample]) -> None:
    assert sorted(p.name for p in samples["pir"].model_dir.iterdir()) == ["model.json", "model.pdiparams"]
    legacy = {p.name for p in samples["pdmodel"].model_dir.iterdir()}
    assert {"inference.pdmodel", "inference.pdiparams"} <= legacy


@pytest.mark.parametrize("layout", ["pir", "pdmodel"])
def test_v1_predictions_are_the_layers_own(
    server: ThreadedServer, samples: dict[str, Sample], layout: str
) -> None:
    sample = samples[layout]
    resp = httpx.post(f"{server.http_url}/v1/models/iris-{layout}:predict", json=sample.v1_request)
    assert resp.status_code == 200, resp.text
    got = resp.json()["predictions"]
    np.testing.assert_allclose(got, sample.expected, atol=sample.tolerance)
    assert np.argmax(got, axis=1).tolist() == sample.extra["labels"] == [0, 1, 2]


@pytest.mark.parametrize("layout", ["pir", "pdmodel"])
def test_v2_rest_and_grpc_answer_output_0(
    server: ThreadedServer, samples: dict[str, Sample], layout: str
) -> None:
    sample = samples[layout]
    resp = httpx.post(f"{server.http_url}/v2/models/iris-{layout}/infer", json=sample.v2_request)
    assert resp.status_code == 200, resp.text
    (out,) = resp.json()["outputs"]
    assert (out["name"], out["datatype"], out["shape"]) == ("output-0", "FP32", [3, 3])
    np.testing.assert_allclose(np.reshape(out["data"], out["shape"]), sample.expected, atol=sample.tolerance)
    rows = np.asarray(sample.v1_request["instances"], dtype=np.float32)
    tensor = grpcclient.InferInput("input-0", list(rows.shape), "FP32")  # one input: any name
    tensor.set_data_from_numpy(rows)
    with grpcclient.InferenceServerClient(server.grpc_target) as client:
        result = client.infer(f"iris-{layout}", [tensor])
    np.testing.assert_allclose(result.as_numpy("output-0"), sample.expected, atol=sample.tolerance)


def test_v2_metadata_reports_the_program(server: ThreadedServer) -> None:
    for name in ("iris-pir", "iris-pdmodel"):
        meta = httpx.get(f"{server.http_url}/v2/models/{name}").json()
        assert meta["platform"] == "paddle_inference"
        assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
        assert meta["outputs"] == [{"name": "output-0", "datatype": "FP32", "shape": [-1, 3]}]


def test_two_named_inputs_v1_first_output_v2_every_output(server: ThreadedServer) -> None:
    rows = {"instances": [{"a": [1, 2], "b": [3, 4]}, {"a": [0, 1], "b": [1, 1]}]}
    resp = httpx.post(f"{server.http_url}/v1/models/pair:predict", json=rows)
    assert resp.json() == {"predictions": [[4.0, 6.0], [1.0, 2.0]]}  # the first output, as KServe
    a = np.array([[1, 2], [3, 4]], dtype=np.float32)
    b = np.array([[10, 20], [30, 40]], dtype=np.float32)
    body = {
        "inputs": [
            {"name": "b", "shape": [2, 2], "datatype": "FP32", "data": b.ravel().tolist()},
            {"name": "a", "shape": [2, 2], "datatype": "FP32", "data": a.ravel().tolist()},
        ]
    }
    outputs = httpx.post(f"{server.http_url}/v2/models/pair/infer", json=body).json()["outputs"]
    by_name = {o["name"]: np.reshape(o["data"], o["shape"]) for o in outputs}
    np.testing.assert_array_equal(by_name["output-0"], a + b)
    np.testing.assert_array_equal(by_name["output-1"], a * b)


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        ("iris-pir", {"instances": [[1.0, 2.0]]}, "input 'x': expected shape [-1, 4], got [1, 2]"),
        ("iris-pdmodel", {"instances": [["a", "b", "c", "d"]]}, "input 'x': expected FP32 numbers"),
        ("pair", {"instances": [[1.0, 2.0]]}, "model pair has inputs ['a', 'b']"),
        ("pair", {"inputs": {"a": [[1, 2]], "b": [[1, 2, 3]]}}, "input 'b': expected shape [-1, 2]"),
        ("pair", {"inputs": {"a": [[1, 2]], "c": [[1, 2]]}}, "missing ['b']; unknown ['c']"),
    ],
)
def test_bad_inputs_are_400_naming_the_input(
    server: ThreadedServer, model: str, body: dict, message: str
) -> None:
    resp = httpx.post(f"{server.http_url}/v1/models/{model}:predict", json=body)
    assert resp.status_code == 400, resp.text
    assert message in resp.json()["error"]
    assert "Traceback" not in resp.text


def test_rows_the_program_rejects_are_a_400_with_paddles_reason(server: ThreadedServer) -> None:
    body = {"inputs": {"a": [[1, 2], [3, 4]], "b": [[1, 2], [3, 4], [5, 6]]}}  # 2 rows + 3 rows
    resp = httpx.post(f"{server.http_url}/v1/models/pair:predict", json=body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error.startswith("model pair: the inputs do not fit the program: ") and "C++" not in error


def _load(folder: Path) -> None:
    RuntimeRegistry.builtin().create("paddle", "m", folder).load()


def test_a_folder_without_the_model_files_names_what_is_expected(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("weights elsewhere")
    expected = r"\.json \(Paddle 3\) or <name>\.pdmodel with its weights <name>\.pdiparams"
    with pytest.raises(
        ModelMissingError, match=rf"no PaddlePaddle model in {tmp_path}: expected .*{expected}"
    ):
        _load(tmp_path)
    with pytest.raises(ModelMissingError, match=r"it holds README\.md"):
        _load(tmp_path)
    with pytest.raises(ModelMissingError, match=r"model folder /nonexistent/paddle does not exist"):
        _load(Path("/nonexistent/paddle"))


def test_weights_without_a_program_name_the_missing_file(tmp_path: Path, samples: dict[str, Sample]) -> None:
    shutil.copy(samples["pir"].model_dir / "model.pdiparams", tmp_path)
    with pytest.raises(
        ModelMissingError, match=r"model\.pdiparams has no model\.json or model\.pdmodel next"
    ):
        _load(tmp_path)
    (tmp_path / "model.pdiparams").unlink()
    shutil.copy(samples["pdmodel"].model_dir / "inference.pdmodel", tmp_path)
    with pytest.raises(ModelMissingError, match=r"inference\.pdmodel has no inference\.pdiparams next"):
        _load(tmp_path)


def test_a_file_that_is_not_a_program_is_refused_before_paddle_reads_it(tmp_path: Path) -> None:
    """Paddle's loader crashes the process on such a ``.pdmodel``: it must never get there."""
    (tmp_path / "model.pdmodel").write_bytes(b"\xff\xff not a program")
    (tmp_path / "model.pdiparams").write_bytes(b"junk")
    with pytest.raises(ModelFormatError, match=r"model\.pdmodel is not a Paddle program \(a ProgramDesc"):
        _load(tmp_path)
    (tmp_path / "model.pdmodel").unlink()
    (tmp_path / "model.json").write_text('{"name": "a config file"}')
    with pytest.raises(
        ModelFormatError, match=r'model\.json is not a Paddle program \(PIR JSON.*"magic": "pir"'
    ):
        _load(tmp_path)


def test_weights_that_do_not_load_name_both_files(tmp_path: Path, samples: dict[str, Sample]) -> None:
    shutil.copy(samples["pir"].model_dir / "model.json", tmp_path)
    (tmp_path / "model.pdiparams").write_bytes(b"junk")
    with pytest.raises(
        ModelFormatError,
        match=r"model\.json with model\.pdiparams is not a model paddle\.inference can load: .*Deserialize",
    ):
        _load(tmp_path)


def test_two_models_in_one_folder_are_ambiguous(tmp_path: Path, samples: dict[str, Sample]) -> None:
    for name in ("model.json", "model.pdiparams"):
        shutil.copy(samples["pir"].model_dir / name, tmp_path)
    for name in ("inference.pdmodel", "inference.pdiparams"):
        shutil.copy(samples["pdmodel"].model_dir / name, tmp_path)
    with pytest.raises(AmbiguousModelError, match=r"found 2: inference\.pdmodel \+ inference\.pdiparams"):
        _load(tmp_path)
    shutil.copy(samples["pdmodel"].model_dir / "inference.pdmodel", tmp_path / "model.pdmodel")
    with pytest.raises(
        AmbiguousModelError, match=r"both model\.json and model\.pdmodel for model\.pdiparams"
    ):
        _load(tmp_path)


def test_a_model_in_a_sub_folder_and_the_program_file_itself_load(
    tmp_path: Path, samples: dict[str, Sample]
) -> None:
    shutil.copytree(samples["pir"].model_dir, tmp_path / "1")
    model = RuntimeRegistry.builtin().create("paddle", "m", tmp_path)
    model.load()
    assert model.model_file == tmp_path / "1" / "model.json"
    direct = RuntimeRegistry.builtin().create("paddle", "m", tmp_path / "1" / "model.json")
    assert direct.load()


def test_kserve_style_command_line(samples: dict[str, Sample]) -> None:
    sample = samples["pdmodel"]
    args = ["paddle", "--model_name=m", f"--model_dir={sample.model_dir}", "--http_port=0", "--grpc-port=-1"]
    with serve_in_subprocess(args) as server:
        resp = httpx.post(f"{server.http_url}/v1/models/m:predict", json=sample.v1_request)
    assert resp.status_code == 200, resp.text
    np.testing.assert_allclose(resp.json()["predictions"], sample.expected, atol=sample.tolerance)
