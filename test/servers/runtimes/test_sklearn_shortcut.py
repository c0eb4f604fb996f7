"""The sklearn runtime's linear ``predict`` shortcut answers exactly what ``model.predict`` answers."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.runtimes.sklearn import SKLearnModel
from zeroserve.servers.types import InferInput, InferRequest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LinearRegression, LogisticRegression, Perceptron, SGDClassifier
    from sklearn.svm import LinearSVC


def _estimators() -> list[tuple[str, Any]]:
    x, y = load_iris(return_X_y=True)
    return [
        ("multiclass", LogisticRegression(max_iter=500).fit(x, y)),
        ("binary", LogisticRegression(max_iter=500).fit(x, y == 1)),
        ("string-labels", LogisticRegression(max_iter=500).fit(x, np.array(["a", "b", "c"])[y])),
        ("regression", LinearRegression().fit(x, y * 1.5)),
        ("two-targets", LinearRegression().fit(x, np.c_[y, -y])),
        ("sgd", SGDClassifier(random_state=0).fit(x, y)),
        ("perceptron", Perceptron(random_state=0).fit(x, y)),
        ("linear-svc", LinearSVC(random_state=0).fit(x, y)),
    ]


def _load(tmp_path: Path, name: str, estimator: Any) -> SKLearnModel:
    folder = tmp_path / name
    folder.mkdir()
    joblib.dump(estimator, folder / "model.joblib")
    model = SKLearnModel(name, folder)
    model.load()
    return model


ROWS = np.array([[6.8, 2.8, 4.8, 1.4], [5.1, 3.5, 1.4, 0.2], [0.0, 0.0, 0.0, 0.0], [-1e6, 3e5, 7.5, 1e-9]])


@pytest.mark.parametrize(("name", "estimator"), _estimators(), ids=[n for n, _ in _estimators()])
def test_answers_equal_the_estimators_predict(tmp_path: Path, name: str, estimator: Any) -> None:
    model = _load(tmp_path, name, estimator)
    for dtype, datatype in ((np.float64, "FP64"), (np.float32, "FP32")):
        rows = ROWS.astype(dtype)
        v2 = model.predict(InferRequest(name, [InferInput("input-0", list(rows.shape), datatype, rows)]))
        got = v2.outputs[0].as_numpy()
        want = estimator.predict(rows)
        if want.dtype.kind == "f":
            assert got.dtype == want.dtype
            assert got.tobytes() == want.tobytes()  # bit for bit
        else:
            assert got.tolist() == want.tolist()
        v1 = model.predict({"instances": rows.tolist()})
        assert v1 == {"predictions": estimator.predict(rows.astype(np.float64)).tolist()}


def test_inputs_outside_the_shortcut_still_get_the_estimators_checks(tmp_path: Path) -> None:
    x, y = load_iris(return_X_y=True)
    estimator = LogisticRegression(max_iter=500).fit(x, y)
    model = _load(tmp_path, "iris", estimator)
    # integers and a Fortran-ordered matrix go through scikit-learn's own predict, same answers
    ints = [[7, 3, 5, 1]]
    assert model.predict({"instances": ints}) == {"predictions": estimator.predict(ints).tolist()}
    fortran = np.asfortranarray(ROWS)
    request = InferRequest("iris", [InferInput("input-0", [4, 4], "FP64", fortran)])
    assert model.predict(request).outputs[0].as_numpy().tolist() == estimator.predict(ROWS).tolist()
    with pytest.raises(InvalidInput, match="NaN"):
        model.predict({"instances": [[float("nan"), 1.0, 2.0, 3.0]]})
