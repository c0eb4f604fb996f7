"""Build the e2e module's models into a folder (run as a child process) and describe them in samples.json.

Usage: python build_samples.py OUTDIR
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from zeroserve.servers.samples import Sample


def _sklearn(folder: Path) -> Sample:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    folder.mkdir(parents=True)
    joblib.dump(model, folder / "model.joblib")
    rows = X[::50]
    v2 = {"inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP64", "data": rows.ravel().tolist()}]}
    return Sample("sklearn", folder, {"instances": rows.tolist()}, v2, model.predict(rows).tolist(), 0.0)


def _xgboost(folder: Path) -> Sample:
    import xgboost
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    booster = xgboost.train({"objective": "multi:softmax", "num_class": 3}, xgboost.DMatrix(X, label=y), 5)
    folder.mkdir(parents=True)
    booster.save_model(str(folder / "model.bst"))
    rows = X[::50]
    v2 = {"inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP64", "data": rows.ravel().tolist()}]}
    expected = booster.predict(xgboost.DMatrix(rows)).tolist()
    return Sample("xgboost", folder, {"instances": rows.tolist()}, v2, expected, 1e-6)


def main(out: Path) -> None:
    """Build every model of the e2e table into ``out`` and write ``out/samples.json``."""
    from zeroserve.servers.samples import (
        lightgbm,
        mlserver,
        onnx,
        paddle,
        pmml,
        tensorflow,
        torchserve,
        triton,
    )

    samples = {
        "sk": _sklearn(out / "sk"),
        "xgb": _xgboost(out / "xgb"),
        "lgb": lightgbm.build(out / "lgb"),
        "onnx": onnx.build(out / "onnx"),
        "paddle": paddle.build(out / "paddle", legacy=True),
        "pmml": pmml.build(out / "pmml"),
        "tf": tensorflow.build(out / "tf"),
        "ts": torchserve.build(out / "ts"),
        "triton": triton.build(out / "triton", torch=False),
        "mls": mlserver.build(out / "mls"),
    }
    rows = {name: {**dataclasses.asdict(s), "model_dir": str(s.model_dir)} for name, s in samples.items()}
    (out / "samples.json").write_text(json.dumps(rows, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
