"""Lay out KServe's sample models offline, in the layout of ``gs://kfserving-examples/``, trained here.

KServe's docs and ``config/samples/`` point ``storageUri`` at ``gs://kfserving-examples/models/...``.
With no network (or no Google Cloud credentials), zeroserve's storage resolves that prefix to a local
folder through a mirror, ``ZEROSERVE_STORAGE_MIRRORS='{"gs://kfserving-examples/": "<DEST>/"}'``: the
rest of the URI is the path below the folder. This script fills such a folder with models of the same
kind and file names, trained on scikit-learn's bundled iris data (no download)::

    <DEST>/models/sklearn/1.0/model/model.joblib  logistic regression  isvc/sklearn-v1.yaml, sklearn-v2,
                                                                     logger, hpa-cpu, custom-container
    <DEST>/models/sklearn/2.0/model/model.joblib  decision tree        isvc/canary.yaml, the README's canary
    <DEST>/models/sklearn/3.0/model/model.joblib  nearest neighbours   isvc/abn-traffic.yaml
    <DEST>/models/xgboost/iris/model.bst          xgboost              isvc/xgboost.yaml (with xgboost)

Not laid out: TorchServe's image classifier (a ``.mar`` archive for TorchServe) and the income
explainer (alibi), which the pytorch, batcher, transformer, gpu-autoscaling and explainer samples use.

Usage: ``python hack/kserve-samples.py [DEST]`` (default ``~/.zeroserve/kfserving-examples``); it prints
the ``export ZEROSERVE_STORAGE_MIRRORS=...`` line for that folder. Running it again retrains in place.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PREFIX = "gs://kfserving-examples/"
DEFAULT_DEST = Path("~/.zeroserve/kfserving-examples")


def _iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    return features, labels


def _sklearn(estimator: Callable[[], Any]) -> Callable[[Path], Path]:
    def train(folder: Path) -> Path:
        import joblib

        features, labels = _iris()
        target = folder / "model.joblib"
        joblib.dump(estimator().fit(features, labels), target)
        return target

    return train


def _logistic() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def _tree() -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=2, random_state=0)


def _neighbours() -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=5)


def _xgboost(folder: Path) -> Path:
    import xgboost

    features, labels = _iris()
    booster = xgboost.train(
        {"objective": "multi:softmax", "num_class": 3, "max_depth": 3, "nthread": 1},
        xgboost.DMatrix(features, label=labels),
        num_boost_round=20,
    )
    target = folder / "model.bst"  # KServe's name; the content is UBJSON, which xgboost reads by content
    target.write_bytes(booster.save_raw(raw_format="ubj"))
    return target


MODELS: dict[str, Callable[[Path], Path]] = {
    "models/sklearn/1.0/model": _sklearn(_logistic),
    "models/sklearn/2.0/model": _sklearn(_tree),
    "models/sklearn/3.0/model": _sklearn(_neighbours),
    "models/xgboost/iris": _xgboost,
}
"""The path below ``gs://kfserving-examples/`` -> how its model is trained into that folder."""


def lay_out(dest: Path) -> list[Path]:
    """Train every sample model into ``dest`` in the bucket's layout.

    Args:
        dest: the mirror folder (created when missing).

    Returns:
        The model files written. The xgboost model is left out, with a note, when xgboost is missing.
    """
    written: list[Path] = []
    for path, train in MODELS.items():
        folder = dest.joinpath(*path.split("/"))
        folder.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        try:
            model = train(folder)
        except ImportError as exc:
            print(f"  skipped {PREFIX}{path}: {exc.name} is not installed")
            continue
        written.append(model)
        print(f"  {PREFIX}{path}  ->  {model}  ({time.perf_counter() - began:.1f} s)")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", type=Path, default=DEFAULT_DEST, help="the mirror folder")
    args = parser.parse_args()
    dest = args.dest.expanduser().resolve()
    print(f"Training KServe's sample models into {dest} (the layout of {PREFIX}):")
    lay_out(dest)
    mirrors = json.dumps({PREFIX: f"{dest}/"})
    print(
        f"\nPoint zeroserve at them (before 'zeroserve up'):\n  export ZEROSERVE_STORAGE_MIRRORS='{mirrors}'"
    )


if __name__ == "__main__":
    main()
