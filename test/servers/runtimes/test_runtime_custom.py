"""The custom-Python runtime: a kserve-style Model subclass from a file or a module, with parameters."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from runtime_support import CUSTOM

from zeroserve.servers.runtimes import CustomModelError, RuntimeRegistry
from zeroserve.servers.testing import ThreadedServer
from zeroserve.servers.types import InferInput, InferRequest


def test_file_class_with_params_over_v1(server: ThreadedServer) -> None:
    resp = httpx.post(f"{server.http_url}/v1/models/{CUSTOM}:predict", json={"instances": [[1, 2], [3, 4]]})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"predictions": [[3.0, 5.0], [7.0, 9.0]]}


def test_file_class_over_grpc(server: ThreadedServer) -> None:
    client = grpcclient.InferenceServerClient(server.grpc_target)
    try:
        tensor = grpcclient.InferInput("x", [3], "FP64")
        tensor.set_data_from_numpy(np.array([0.5, 1.0, 1.5]))
        got = client.infer(CUSTOM, [tensor]).as_numpy("output-0")
    finally:
        client.close()
    np.testing.assert_array_equal(got, np.array([2.0, 3.0, 4.0]))


async def test_module_path_class(
    registry: RuntimeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "acme_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "echo.py").write_text(
        textwrap.dedent(
            """
            from zeroserve.servers.model import Model

            class Echo(Model):
                def __init__(self, name, model_dir=None, prefix="echo"):
                    super().__init__(name)
                    self.model_dir = model_dir
                    self.prefix = prefix

                def predict(self, payload, headers=None):
                    return {"predictions": [f"{self.prefix}:{x}" for x in payload["instances"]]}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    model = registry.create(
        "custom", "echo", tmp_path, {"model_class": "acme_models.echo:Echo", "model_params": {"prefix": "hi"}}
    )
    assert model.load() is True and model.ready
    assert model.model_dir == str(tmp_path)  # type: ignore[attr-defined]
    assert await model({"instances": ["a", "b"]}) == {"predictions": ["hi:a", "hi:b"]}


async def test_v2_request_in_process(registry: RuntimeRegistry, custom_model_file: Path) -> None:
    model = registry.create("custom", "scale", None, {"model_class": f"{custom_model_file}:ScaleModel"})
    model.load()
    tensor = InferInput("x", [2], "FP32", [1.0, 2.0])
    response = await model(InferRequest("scale", [tensor], request_id="r1"))
    assert response.id == "r1"
    np.testing.assert_array_equal(response.outputs[0].as_numpy(), [1.0, 2.0])


@pytest.mark.parametrize(
    ("target", "params", "message"),
    [
        ("{file}", None, "must look like 'path/to/file.py:ClassName'"),
        ("{dir}/missing.py:Model", None, "custom: model file {dir}/missing.py does not exist"),
        (
            "{file}:Nope",
            None,
            "has no class 'Nope' (Model subclasses there: ['NeedsArgument', 'ScaleModel'])",
        ),
        ("{file}:NotAModel", None, "NotAModel is not a subclass of zeroserve.servers.model.Model"),
        ("{file}:NeedsArgument", None, "cannot construct {file}:NeedsArgument with parameters []"),
        ("{file}:ScaleModel", "{not json", "custom: --model-params is not valid JSON"),
        ("{file}:ScaleModel", "[1, 2]", "custom: --model-params must be a JSON object, got list"),
        (
            "{file}:ScaleModel",
            '{"colour": "red"}',
            "cannot construct {file}:ScaleModel with parameters ['colour']",
        ),
        ("no_such_package_xyz.models:Model", None, "importing module 'no_such_package_xyz.models' failed"),
    ],
)
def test_bad_custom_classes(
    registry: RuntimeRegistry, custom_model_file: Path, target: str, params: str | None, message: str
) -> None:
    fill = {"file": str(custom_model_file), "dir": str(custom_model_file.parent)}
    options: dict[str, object] = {"model_class": target.format(**fill)}
    if params is not None:
        options["model_params"] = params
    with pytest.raises(CustomModelError) as info:
        registry.create("custom", "m", None, options)
    assert message.format(**fill) in str(info.value)


def test_broken_module_file_reports_the_import_error(registry: RuntimeRegistry, tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("import numpy as np\nraise RuntimeError('boom at import')\n")
    with pytest.raises(
        CustomModelError, match=f"custom: importing {path} failed: RuntimeError: boom at import"
    ):
        registry.create("custom", "m", None, {"model_class": f"{path}:Model"})


def test_model_class_is_required(registry: RuntimeRegistry) -> None:
    with pytest.raises(CustomModelError, match="custom: --model-class is required"):
        registry.create("custom", "m", None, {})
