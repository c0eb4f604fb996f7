"""Session fixtures of the runtime tests: iris models trained once, and one in-process server serving all."""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from runtime_support import CUSTOM, CUSTOM_MODEL_SOURCE, SKLEARN, SKLEARN_PROBA, TORCH, XGBOOST

from zeroserve.servers.runtimes import RuntimeRegistry
from zeroserve.servers.testing import (
    ThreadedServer,
    iris_data,
    serve_in_thread,
    train_iris_sklearn,
    train_iris_xgboost,
)


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray, np.ndarray]:
    """The iris data set ``(X, y)``."""
    return iris_data()


@pytest.fixture(scope="session")
def sklearn_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``model.joblib``: a logistic regression trained on iris."""
    return train_iris_sklearn(tmp_path_factory.mktemp("sklearn"))


@pytest.fixture(scope="session")
def xgboost_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``model.json``: a 3-class softprob booster trained on iris."""
    return train_iris_xgboost(tmp_path_factory.mktemp("xgboost"))


@pytest.fixture(scope="session")
def torch_dir(tmp_path_factory: pytest.TempPathFactory, iris: tuple[np.ndarray, np.ndarray]) -> Path:
    """A folder holding ``model.pt``: a TorchScript linear softmax classifier trained briefly on iris."""
    import torch

    torch.manual_seed(0)
    X = torch.tensor(iris[0], dtype=torch.float32)
    y = torch.tensor(iris[1], dtype=torch.int64)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3), torch.nn.Softmax(dim=1)
    )
    optim = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(60):
        optim.zero_grad()
        loss = torch.nn.functional.nll_loss(torch.log(net(X)), y)
        loss.backward()
        optim.step()
    folder = tmp_path_factory.mktemp("torch")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        torch.jit.script(net.eval()).save(str(folder / "model.pt"))
    return folder


@pytest.fixture(scope="session")
def custom_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python file with a kserve-style custom model ``ScaleModel`` and two broken classes."""
    path = tmp_path_factory.mktemp("custom") / "scale_model.py"
    path.write_text(textwrap.dedent(CUSTOM_MODEL_SOURCE))
    return path


@pytest.fixture(scope="session")
def registry() -> RuntimeRegistry:
    """The built-in runtime registry."""
    return RuntimeRegistry.builtin()


@pytest.fixture(scope="session")
def server(
    registry: RuntimeRegistry, sklearn_dir: Path, xgboost_dir: Path, torch_dir: Path, custom_model_file: Path
) -> Iterator[ThreadedServer]:
    """One real server (in-process, real sockets on port 0) serving every runtime's model."""
    models = [
        registry.create("sklearn", SKLEARN, sklearn_dir),
        registry.create("sklearn", SKLEARN_PROBA, sklearn_dir, {"predict_proba": True}),
        registry.create("xgboost", XGBOOST, xgboost_dir, {"nthread": 1}),
        registry.create("pytorch", TORCH, torch_dir, {"device": "cpu"}),
        registry.create(
            "custom",
            CUSTOM,
            None,
            {
                "model_class": f"{custom_model_file}:ScaleModel",
                "model_params": '{"factor": 2.0, "offset": 1.0}',
            },
        ),
    ]
    with serve_in_thread(models) as srv:
        yield srv
