"""A LightGBM multi-class booster trained on iris, saved as ``model.bst`` (LightGBM's text format)."""

from __future__ import annotations

from pathlib import Path

from zeroserve.servers.samples import Sample

__all__ = ["build"]


def build(folder: Path) -> Sample:
    """Train the booster, write ``model.bst`` into ``folder`` and predict a few rows in-process."""
    import lightgbm
    import numpy as np
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    params = {"objective": "multiclass", "num_class": 3, "num_leaves": 7, "verbose": -1, "num_threads": 1}
    booster = lightgbm.train(params, lightgbm.Dataset(X, label=y), num_boost_round=10)
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / "model.bst"))
    rows = X[::50].tolist()
    expected = np.asarray(booster.predict(X[::50])).tolist()
    return Sample(
        model_format="lightgbm",
        model_dir=folder,
        v1_request={"instances": rows},
        v2_request={
            "inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}]
        },
        expected=expected,
        tolerance=1e-9,
        runtime="kserve-lgbserver",
        extra={"v2_output": "output-0"},
    )
