"""Load-time errors of the runtimes: missing, ambiguous and malformed model files, bad options, devices."""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest

from zeroserve.servers.errors import ModelLoadError
from zeroserve.servers.runtimes import (
    AmbiguousModelError,
    DeviceUnavailableError,
    ModelFormatError,
    ModelMissingError,
    RuntimeOptionsError,
    RuntimeRegistry,
    UnknownRuntimeError,
)

PATTERNS = {
    "sklearn": "*.joblib, *.pkl, *.pickle",
    "xgboost": "*.bst, *.json, *.ubj",
    "pytorch": "*.pt",
}
FILE_NAMES = {"sklearn": "model.joblib", "xgboost": "model.json", "pytorch": "model.pt"}


@pytest.mark.parametrize("runtime", list(PATTERNS))
def test_empty_folder_names_the_expected_files(
    registry: RuntimeRegistry, runtime: str, tmp_path: Path
) -> None:
    (tmp_path / "README.md").write_text("not a model")
    model = registry.create(runtime, "m", tmp_path)
    with pytest.raises(ModelMissingError) as info:
        model.load()
    assert str(info.value) == f"{runtime}: no model file ({PATTERNS[runtime]}) found in {tmp_path}"
    assert isinstance(info.value, ModelLoadError) and info.value.status_code == 503
    assert not model.ready


def test_missing_folder(registry: RuntimeRegistry, tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match=f"sklearn: model folder {tmp_path}/nope does not exist"):
        registry.create("sklearn", "m", tmp_path / "nope").load()


def test_two_model_files_are_named(registry: RuntimeRegistry, sklearn_dir: Path, tmp_path: Path) -> None:
    shutil.copy(sklearn_dir / "model.joblib", tmp_path / "model.joblib")
    shutil.copy(sklearn_dir / "model.joblib", tmp_path / "old.pkl")
    with pytest.raises(AmbiguousModelError) as info:
        registry.create("sklearn", "m", tmp_path).load()
    assert str(info.value) == (
        f"sklearn: expected exactly one model file (*.joblib, *.pkl, *.pickle) in {tmp_path}, "
        "found 2: model.joblib, old.pkl"
    )


def test_model_in_a_single_sub_folder_is_found(
    registry: RuntimeRegistry, xgboost_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "export").mkdir()
    shutil.copy(xgboost_dir / "model.json", tmp_path / "export" / "model.json")
    model = registry.create("xgboost", "m", tmp_path)
    assert model.load() is True
    assert model.model_file == tmp_path / "export" / "model.json"  # type: ignore[attr-defined]


def test_model_dir_may_name_the_file(registry: RuntimeRegistry, sklearn_dir: Path) -> None:
    model = registry.create("sklearn", "m", sklearn_dir / "model.joblib")
    assert model.load() is True


@pytest.mark.parametrize("runtime", list(PATTERNS))
def test_garbage_file_is_a_format_error(registry: RuntimeRegistry, runtime: str, tmp_path: Path) -> None:
    path = tmp_path / FILE_NAMES[runtime]
    path.write_bytes(b"\x00\x01 definitely not a model")
    with pytest.raises(ModelFormatError, match=f"{runtime}: {path} is not a"):
        registry.create(runtime, "m", tmp_path).load()


def test_pickle_of_something_else_says_what_it_holds(registry: RuntimeRegistry, tmp_path: Path) -> None:
    joblib.dump({"weights": [1, 2, 3]}, tmp_path / "model.joblib")
    with pytest.raises(
        ModelFormatError, match=r"the object in .*model\.joblib is a dict, which has no predict\(\)"
    ):
        registry.create("sklearn", "m", tmp_path).load()


def test_unknown_runtime_lists_the_known_ones(registry: RuntimeRegistry) -> None:
    with pytest.raises(
        UnknownRuntimeError, match="unknown runtime 'mxnet'; known runtimes: sklearn, xgboost"
    ):
        registry.create("mxnet", "m", "/tmp")


def test_kserve_image_names_are_aliases(registry: RuntimeRegistry) -> None:
    assert registry.get("sklearnserver").name == "sklearn"
    assert registry.get("xgbserver").name == "xgboost"
    assert registry.get("PyTorch").name == "pytorch"


@pytest.mark.parametrize(
    ("runtime", "options", "message"),
    [
        ("sklearn", {"nthread": 2}, "sklearn: unknown option(s) nthread; known: predict_proba"),
        (
            "xgboost",
            {"nthread": "-1"},
            "xgboost: bad option value: nthread: Input should be greater than or equal to 0",
        ),
        ("pytorch", {"device": "gpu"}, "device must be 'cpu', 'cuda' or 'cuda:N', got 'gpu'"),
        ("sklearn", {"predict_proba": "maybe"}, "sklearn: bad option value: predict_proba"),
    ],
)
def test_bad_options(
    registry: RuntimeRegistry, runtime: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(RuntimeOptionsError) as info:
        registry.create(runtime, "m", "/models", options)
    assert message in str(info.value)


def test_options_come_from_the_environment(
    registry: RuntimeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREDICT_PROBA", "true")
    monkeypatch.setenv("ZEROSERVE_XGBOOST_NTHREAD", "3")
    assert registry.create("sklearn", "m", "/models").options.predict_proba is True  # type: ignore[attr-defined]
    assert registry.create("xgboost", "m", "/models").options.nthread == 3  # type: ignore[attr-defined]
    # An explicit option beats the environment.
    explicit = registry.create("sklearn", "m", "/models", {"predict_proba": False})
    assert explicit.options.predict_proba is False  # type: ignore[attr-defined]


def test_file_runtimes_need_a_model_folder(registry: RuntimeRegistry) -> None:
    with pytest.raises(
        ModelFormatError, match=r"xgboost: a model folder \(--model-dir or --storage-uri\) is required"
    ):
        registry.create("xgboost", "m", None)


def test_cuda_requested_without_cuda_is_a_clear_error(registry: RuntimeRegistry, torch_dir: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error path needs a machine without it")
    model = registry.create("pytorch", "m", torch_dir, {"device": "cuda:0"})
    with pytest.raises(
        DeviceUnavailableError, match="pytorch: device cuda:0 was requested but CUDA is not available"
    ):
        model.load()


@pytest.mark.gpu
def test_cuda_device_is_used_when_present(
    registry: RuntimeRegistry, torch_dir: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    model = registry.create("pytorch", "m", torch_dir, {"device": "cuda"})
    model.load()
    assert model.device == torch.device("cuda:0")  # type: ignore[attr-defined]
    too_far = registry.create("pytorch", "m", torch_dir, {"device": f"cuda:{torch.cuda.device_count()}"})
    with pytest.raises(DeviceUnavailableError, match="CUDA device"):
        too_far.load()
    answer = model.predict({"instances": iris[0][:3].tolist()})  # type: ignore[attr-defined]
    assert np.asarray(answer["predictions"]).shape == (3, 3)


def test_in_process_server_start_failure_names_the_cause(registry: RuntimeRegistry, tmp_path: Path) -> None:
    from zeroserve.servers.testing import ServerStartError, serve_in_thread

    broken = registry.create("sklearn", "broken", tmp_path)
    with pytest.raises(ServerStartError, match="no model file"), serve_in_thread([broken]):
        pass
