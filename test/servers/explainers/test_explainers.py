"""The explainers (kernelshap, art) answer :explain by calling a real predictor over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from zeroserve.servers.errors import ModelLoadError
from zeroserve.servers.explainers import ArtExplainer, KernelShapExplainer, build_kernelshap
from zeroserve.servers.explainers.shap import kernel_shap
from zeroserve.servers.runtimes import RuntimeOptionsError
from zeroserve.servers.runtimes.sklearn import SKLearnModel
from zeroserve.servers.testing import ThreadedServer, iris_data, serve_in_thread
from zeroserve.servers.transformer.config import PredictorConfig

WEIGHTS = np.array([0.5, -1.0, 2.0, 0.25])


@pytest.fixture(scope="module")
def predictors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    """``linear`` (y = X @ WEIGHTS + 1) and ``iris`` (a logistic regression) in one sklearn server."""
    import joblib
    from sklearn.linear_model import LinearRegression, LogisticRegression

    folder = tmp_path_factory.mktemp("predictors")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    (folder / "linear").mkdir()
    joblib.dump(LinearRegression().fit(X, X @ WEIGHTS + 1.0), folder / "linear" / "model.joblib")
    (folder / "iris").mkdir()
    Xi, yi = iris_data()
    joblib.dump(LogisticRegression(max_iter=500).fit(Xi, yi), folder / "iris" / "model.joblib")
    models = [SKLearnModel("linear", folder / "linear"), SKLearnModel("iris", folder / "iris")]
    with serve_in_thread(models) as server:
        yield server


def _host(server: ThreadedServer) -> str:
    return f"127.0.0.1:{server.http_port}"


def test_kernel_shap_is_exact_for_a_linear_model() -> None:
    rng = np.random.default_rng(3)
    x, background = rng.normal(size=6), rng.normal(size=(4, 6))
    w = rng.normal(size=6)
    values, expected, fx = kernel_shap(lambda rows: rows @ w, x, background)
    np.testing.assert_allclose(values[0], w * (x - background.mean(axis=0)), atol=1e-9)
    np.testing.assert_allclose(values.sum(axis=1), fx - expected, atol=1e-9)
    # sampled coalitions (2**12 - 2 > 300) keep the values summing to f(x) - E[f]
    x, background, w = rng.normal(size=12), rng.normal(size=(3, 12)), rng.normal(size=12)
    values, expected, fx = kernel_shap(lambda r: np.stack([r @ w, np.tanh(r @ w)], 1), x, background, 300)
    np.testing.assert_allclose(values.sum(axis=1), fx - expected, atol=1e-9)
    np.testing.assert_allclose(values[0], w * (x - background.mean(axis=0)), atol=1e-6)


def test_kernelshap_explains_through_the_predictor(predictors: ThreadedServer, tmp_path: Path) -> None:
    background = np.random.default_rng(1).normal(size=(5, 4))
    np.save(tmp_path / "background.npy", background)
    explainer = KernelShapExplainer("linear", tmp_path)
    explainer.predictor_config = PredictorConfig(_host(predictors))
    rows = [[1.0, 2.0, 3.0, 4.0], [0.0, -1.0, 0.5, 2.0]]
    with serve_in_thread([explainer]) as server, httpx.Client(base_url=server.http_url, timeout=30) as client:
        got = client.post("/v1/models/linear:explain", json={"instances": rows})
        assert got.status_code == 200, got.text
        doc = got.json()["explanations"]
        values = np.asarray(doc["shap_values"])  # (outputs, rows, features)
        assert values.shape == (1, 2, 4) and doc["exact"] is True
        for i, row in enumerate(rows):
            np.testing.assert_allclose(
                values[0, i], WEIGHTS * (np.asarray(row) - background.mean(0)), atol=1e-6
            )
        assert doc["expected_value"][0] == pytest.approx(float(background.mean(0) @ WEIGHTS + 1), abs=1e-6)
        # :predict goes to the predictor, as a KServe explainer does
        predicted = client.post("/v1/models/linear:predict", json={"instances": rows}).json()["predictions"]
        np.testing.assert_allclose(predicted, np.asarray(rows) @ WEIGHTS + 1, atol=1e-6)
        bad = client.post("/v1/models/linear:explain", json={"rows": rows})
        assert bad.status_code == 400 and '"instances"' in bad.json()["error"]


def test_art_square_attack_through_the_predictor(predictors: ThreadedServer) -> None:
    pytest.importorskip("art")
    explainer = ArtExplainer("iris", "SquareAttack", nb_classes=3, max_iter=5)
    explainer.predictor_config = PredictorConfig(_host(predictors))
    X, y = iris_data()
    with serve_in_thread([explainer]) as server, httpx.Client(base_url=server.http_url, timeout=60) as client:
        image = X[70].reshape(1, 2, 2, 1)  # SquareAttack works on images: the 4 features as 2 x 2 x 1
        got = client.post("/v1/models/iris:explain", json={"instances": [image.tolist(), int(y[70])]})
        assert got.status_code == 200, got.text
        doc = got.json()["explanations"]
        assert set(doc) == {"adversarial_example", "L2 error", "adversarial_prediction", "prediction"}
        assert np.asarray(doc["adversarial_example"]).shape == (1, 2, 2, 1)
        assert doc["prediction"] in (0, 1, 2) and doc["L2 error"] >= 0
        flat = client.post("/v1/models/iris:explain", json={"instances": [X[70].tolist(), int(y[70])]})
        assert flat.status_code == 400 and "H x W x C" in flat.json()["error"]


def test_an_explainer_without_a_predictor_fails_to_load_naming_the_flag() -> None:
    with pytest.raises(ModelLoadError, match="--predictor_host"):
        KernelShapExplainer("x").load()
    with pytest.raises(
        RuntimeOptionsError, match="adversary_type 'FGSM' is not supported; supported: SquareAttack"
    ):
        ArtExplainer("x", "FGSM")
    with pytest.raises(RuntimeOptionsError, match="unknown option"):
        build_kernelshap("x", None, {"bogus": 1})
