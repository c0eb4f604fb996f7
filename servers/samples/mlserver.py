"""MLServer model folders: ``model-settings.json`` beside the model file, one folder or several.

:func:`build` writes one scikit-learn iris model served as MLServer would (V2 only, output
``predict``); :func:`build_repository` writes MLServer's multi-model layout (one sub-folder per
model: scikit-learn, XGBoost, LightGBM).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zeroserve.servers.samples import Sample

__all__ = ["build", "build_repository", "write_settings"]


def write_settings(folder: Path, name: str, implementation: str, uri: str, **extra: Any) -> Path:
    """Write ``folder/model-settings.json``."""
    parameters: dict[str, Any] = {"uri": uri}
    if "version" in extra:
        parameters["version"] = extra.pop("version")
    doc = {"name": name, "implementation": implementation, "parameters": parameters, **extra}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model-settings.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def _rows() -> Any:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return X, y


def build(folder: Path) -> Sample:
    """An iris logistic regression with MLServer settings (version ``v0.1.0``, batching 8 / 50 ms)."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    X, y = _rows()
    model = LogisticRegression(max_iter=1000).fit(X, y)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    write_settings(
        folder,
        "iris-mlserver",
        "mlserver_sklearn.SKLearnModel",
        "./model.joblib",
        version="v0.1.0",
        max_batch_size=8,
        max_batch_time=0.05,
    )
    rows = X[::50]
    return Sample(
        model_format="sklearn",
        model_dir=folder,
        v1_request={"instances": rows.tolist()},
        v2_request={
            "inputs": [
                {
                    "name": "input-0",
                    "shape": list(rows.shape),
                    "datatype": "FP64",
                    "data": rows.ravel().tolist(),
                }
            ]
        },
        expected=model.predict(rows).tolist(),
        tolerance=0.0,
        runtime="kserve-mlserver",
        extra={"name": "iris-mlserver", "version": "v0.1.0", "v2_output": "predict", "protocols": ["v2"]},
    )


def build_repository(folder: Path) -> dict[str, list[Any]]:
    """MLServer's multi-model layout under ``folder``: ``sk/``, ``xgb/``, ``lgb/``.

    Returns:
        Model name -> what its framework predicts in-process for the first three iris rows.
    """
    import joblib
    import lightgbm
    import numpy as np
    import xgboost
    from sklearn.tree import DecisionTreeClassifier

    X, y = _rows()
    rows = X[:3]
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    joblib.dump(tree, _mkdir(folder / "sk") / "model.joblib")
    write_settings(folder / "sk", "iris-tree", "mlserver_sklearn.SKLearnModel", "./model.joblib")
    booster = xgboost.train(
        {"objective": "multi:softprob", "num_class": 3, "nthread": 1}, xgboost.DMatrix(X, label=y), 5
    )
    booster.save_model(str(_mkdir(folder / "xgb") / "model.json"))
    write_settings(folder / "xgb", "iris-xgb", "mlserver_xgboost.XGBoostModel", "./model.json")
    lgb = lightgbm.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1},
        lightgbm.Dataset(X, label=y),
        5,
    )
    lgb.save_model(str(_mkdir(folder / "lgb") / "model.bst"))
    write_settings(folder / "lgb", "iris-lgb", "mlserver_lightgbm.LightGBMModel", "./model.bst")
    return {
        "iris-tree": tree.predict(rows).tolist(),
        "iris-xgb": booster.predict(xgboost.DMatrix(rows)).tolist(),
        "iris-lgb": np.asarray(lgb.predict(rows)).tolist(),
    }


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
