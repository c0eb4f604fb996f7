"""An ONNX graph written by hand with ``onnx.helper``: iris logistic regression as MatMul, Add, Softmax.

The weights come from a scikit-learn ``LogisticRegression`` fitted on iris. The graph has one input
``float_input`` (``[N, 4]`` float) and two outputs: ``probabilities`` (``[N, 3]`` float, softmax of
the logits) and ``label`` (``[N]`` int64, their argmax). The expected answer is onnxruntime's,
in-process, on the same rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zeroserve.servers.samples import Sample

__all__ = ["build", "iris_graph"]


def iris_graph(coef: Any, intercept: Any) -> Any:
    """The ONNX ``ModelProto`` of a linear softmax classifier with the given weights."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n_features, n_classes = coef.shape[1], coef.shape[0]
    weights = numpy_helper.from_array(np.asarray(coef.T, dtype=np.float32), "W")
    bias = numpy_helper.from_array(np.asarray(intercept, dtype=np.float32), "B")
    nodes = [
        helper.make_node("MatMul", ["float_input", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "iris_logreg",
        [helper.make_tensor_value_info("float_input", TensorProto.FLOAT, ["N", n_features])],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_classes]),
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
        ],
        initializer=[weights, bias],
    )
    model = helper.make_model(
        graph, producer_name="zeroserve-samples", opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = 8
    model.doc_string = "iris logistic regression"
    helper.set_model_props(model, {"source": "sklearn LogisticRegression"})
    onnx.checker.check_model(model)
    return model


def build(folder: Path) -> Sample:
    """Write ``model.onnx`` into ``folder`` and run a few rows through onnxruntime in-process."""
    import numpy as np
    import onnx
    import onnxruntime
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    fitted = LogisticRegression(max_iter=1000).fit(X, y)
    model = iris_graph(fitted.coef_, fitted.intercept_)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    rows = X[::50].astype(np.float32)
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    probabilities, label = session.run(["probabilities", "label"], {"float_input": rows})
    return Sample(
        model_format="onnx",
        model_dir=folder,
        v1_request={"instances": rows.tolist()},
        v2_request={
            "inputs": [
                {
                    "name": "float_input",
                    "shape": list(rows.shape),
                    "datatype": "FP32",
                    "data": rows.ravel().tolist(),
                }
            ]
        },
        expected=[
            {"probabilities": p, "label": int(k)}
            for p, k in zip(probabilities.tolist(), label.tolist(), strict=True)
        ],
        tolerance=1e-6,
        runtime="zeroserve-onnx",
        extra={"v2_outputs": ["probabilities", "label"], "sklearn_labels": fitted.predict(X[::50]).tolist()},
    )
