"""A PaddlePaddle iris classifier: ``paddle.nn.Linear`` + softmax, saved with ``paddle.jit.save``.

The weights are a scikit-learn ``LogisticRegression`` fitted on iris, copied into the layer, so the
answers are deterministic. The program has one input ``x`` (``[N, 4]`` float32) and one output, the
class probabilities (``[N, 3]``). ``build`` writes Paddle 3's layout (``model.json`` +
``model.pdiparams``); ``build(folder, legacy=True)`` the earlier one (``inference.pdmodel`` +
``inference.pdiparams``, the names of KServe's samples), saved in a child process with
``FLAGS_enable_pir_api=0`` (the flag is read when Paddle is imported). The expected answer is the
layer's own, run in this process on the same rows.

``python -m zeroserve.servers.samples.paddle [--legacy] FOLDER`` writes a folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from zeroserve.servers.samples import Sample

__all__ = ["build", "iris_layer"]

_LEGACY_ENV = {"FLAGS_enable_pir_api": "0", "GLOG_minloglevel": "2"}


def _paddle() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Paddle warns at import (no ccache, ...)
        import paddle

    return paddle


def iris_layer() -> tuple[Any, Any]:
    """The layer (weights from a logistic regression fitted on iris) and the iris rows ``X``."""
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    paddle = _paddle()
    X, y = load_iris(return_X_y=True)
    fitted = LogisticRegression(max_iter=1000).fit(X, y)
    linear = paddle.nn.Linear(4, 3)
    linear.weight.set_value(np.asarray(fitted.coef_.T, dtype=np.float32))
    linear.bias.set_value(np.asarray(fitted.intercept_, dtype=np.float32))
    layer = paddle.nn.Sequential(linear, paddle.nn.Softmax(axis=-1))
    layer.eval()
    return layer, X


def _save(folder: Path, stem: str) -> None:
    paddle = _paddle()
    layer, _ = iris_layer()
    folder.mkdir(parents=True, exist_ok=True)
    spec = [paddle.static.InputSpec(shape=[None, 4], dtype="float32", name="x")]
    paddle.jit.save(layer, str(folder / stem), input_spec=spec)


def build(folder: Path, *, legacy: bool = False) -> Sample:
    """Save the iris layer into ``folder`` and run a few rows through it in-process.

    Args:
        folder: where to write the model.
        legacy: write ``inference.pdmodel`` (the layout before Paddle 3) instead of ``model.json``.
    """
    import numpy as np

    if legacy:
        env = {**os.environ, **_LEGACY_ENV}
        command = [sys.executable, "-m", __name__, "--legacy", str(folder)]
        done = subprocess.run(command, env=env, timeout=300, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise RuntimeError(f"saving the legacy paddle sample into {folder} failed: {tail}")
    else:
        _save(folder, "model")
    paddle = _paddle()
    layer, X = iris_layer()
    rows = X[::50].astype(np.float32)
    probabilities = layer(paddle.to_tensor(rows)).numpy()
    return Sample(
        model_format="paddle",
        model_dir=folder,
        v1_request={"instances": rows.tolist()},
        v2_request={
            "inputs": [
                {"name": "x", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}
            ]
        },
        expected=probabilities.tolist(),
        tolerance=1e-5,
        runtime="kserve-paddleserver",
        extra={"v2_output": "output-0", "labels": probabilities.argmax(axis=1).tolist()},
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    old = args[:1] == ["--legacy"]
    target = Path(args[-1])
    _save(target, "inference" if old else "model")
