"""A TensorFlow SavedModel (TFServing's layout ``DIR/1/saved_model.pb``): iris logistic regression.

The weights come from a scikit-learn ``LogisticRegression``; the ``serving_default`` signature takes
``inputs`` (``[N, 4]`` float32) and answers ``scores`` (``[N, 3]`` softmax) and ``label``
(``[N]`` int64). The expected answer is the signature's own, called in-process. Importing
tensorflow takes seconds: build it once per test session.
"""

from __future__ import annotations

from pathlib import Path

from zeroserve.servers.samples import Sample

__all__ = ["build"]


def build(folder: Path) -> Sample:
    """Write the SavedModel under ``folder/1`` and call its signature on a few rows."""
    import numpy as np
    import tensorflow as tf
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    fitted = LogisticRegression(max_iter=1000).fit(X, y)

    class Iris(tf.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(fitted.coef_.T.astype(np.float32))
            self.b = tf.Variable(fitted.intercept_.astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="inputs")])  # type: ignore[untyped-decorator]
        def serve(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
            logits = tf.matmul(inputs, self.w) + self.b
            return {"scores": tf.nn.softmax(logits), "label": tf.argmax(logits, axis=1)}

    module = Iris()
    folder.mkdir(parents=True, exist_ok=True)
    tf.saved_model.save(module, str(folder / "1"), signatures={"serving_default": module.serve})
    rows = X[::50].astype(np.float32)
    answer = module.serve(tf.constant(rows))
    scores, label = answer["scores"].numpy().tolist(), answer["label"].numpy().tolist()
    return Sample(
        model_format="tensorflow",
        model_dir=folder,
        v1_request={"instances": rows.tolist()},
        v2_request={
            "inputs": [
                {
                    "name": "inputs",
                    "shape": list(rows.shape),
                    "datatype": "FP32",
                    "data": rows.ravel().tolist(),
                }
            ]
        },
        expected=[{"label": k, "scores": s} for k, s in zip(label, scores, strict=True)],
        tolerance=1e-6,
        runtime="kserve-tensorflow-serving",
        extra={"version": "1", "sklearn_labels": fitted.predict(X[::50]).tolist()},
    )
