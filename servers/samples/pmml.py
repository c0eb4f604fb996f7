"""PMML documents written from fitted scikit-learn models (no Java, no sklearn2pmml), for the PMML runtime.

Writers (each returns the ``<PMML>`` element; :func:`save` writes it):

- :func:`forest_document`: a ``RandomForestClassifier`` as a ``MiningModel`` averaging ``TreeModel``
  class probabilities (``ScoreDistribution``), or a ``DecisionTreeClassifier`` / ``Regressor`` alone;
- :func:`logistic_document`: a ``LogisticRegression`` as a ``RegressionModel`` (softmax, or logit
  for two classes);
- :func:`mlp_document`: an ``MLPClassifier`` as a ``NeuralNetwork``;
- :func:`boosting_document`: a binary ``GradientBoostingClassifier`` as sklearn2pmml writes it: a
  ``MiningModel`` model chain of a summed tree ensemble (``Targets`` rescaling by the learning rate
  and the prior's log-odds) and a logit ``RegressionModel``.

Fields are declared ``float``: scikit-learn compares single-precision features with its thresholds.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zeroserve.servers.samples import Sample

__all__ = ["boosting_document", "build", "forest_document", "logistic_document", "mlp_document", "save"]

NS = "http://www.dmg.org/PMML-4_4"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SPECIES = ["setosa", "versicolor", "virginica"]


def _el(parent: ET.Element | None, tag: str, **attrs: Any) -> ET.Element:
    values = {k.rstrip("_"): str(v) for k, v in attrs.items() if v is not None}
    return ET.Element(tag, values) if parent is None else ET.SubElement(parent, tag, values)


def _document(
    features: Sequence[str], target: str, classes: Sequence[str] | None, data_type: str = "float"
) -> ET.Element:
    root = ET.Element("PMML", {"xmlns": NS, "version": "4.4"})
    _el(root, "Header", description="written by zeroserve.servers.samples.pmml")
    dictionary = _el(root, "DataDictionary")
    for name in features:
        _el(dictionary, "DataField", name=name, optype="continuous", dataType=data_type)
    if classes is None:
        _el(dictionary, "DataField", name=target, optype="continuous", dataType="double")
    else:
        field = _el(dictionary, "DataField", name=target, optype="categorical", dataType="string")
        for value in classes:
            _el(field, "Value", value=value)
    return root


def _schema(model: ET.Element, features: Sequence[str], target: str | None) -> None:
    schema = _el(model, "MiningSchema")
    if target is not None:
        _el(schema, "MiningField", name=target, usageType="target")
    for name in features:
        _el(schema, "MiningField", name=name)


def _probability_outputs(model: ET.Element, classes: Sequence[str]) -> None:
    output = _el(model, "Output")
    for value in classes:
        _el(
            output,
            "OutputField",
            name=f"probability({value})",
            optype="continuous",
            dataType="double",
            feature="probability",
            value=value,
        )


def _tree(
    parent: ET.Element,
    estimator: Any,
    features: Sequence[str],
    target: str | None,
    classes: Sequence[str] | None,
    *,
    regression_value: bool = False,
) -> ET.Element:
    tree = estimator.tree_
    function = "classification" if classes is not None and not regression_value else "regression"
    model = _el(
        parent,
        "TreeModel",
        functionName=function,
        noTrueChildStrategy="returnLastPrediction",
        splitCharacteristic="binarySplit",
    )
    _schema(model, features, target)

    def node(parent_el: ET.Element, index: int, predicate: tuple[str, str, float] | None) -> None:
        el = _el(parent_el, "Node", id=str(index))
        if predicate is None:
            _el(el, "True")
        else:
            name, op, threshold = predicate
            _el(el, "SimplePredicate", field=name, operator=op, value=repr(float(threshold)))
        left, right = tree.children_left[index], tree.children_right[index]
        value = tree.value[index]
        if function == "classification":
            counts = value[0] / value[0].sum()
            assert classes is not None
            best = int(counts.argmax())
            el.set("score", classes[best])
            for label, p in zip(classes, counts, strict=True):
                _el(
                    el,
                    "ScoreDistribution",
                    value=label,
                    recordCount=repr(float(p) * tree.n_node_samples[index]),
                    probability=repr(float(p)),
                )
        else:
            el.set("score", repr(float(value[0][0])))
        if left != -1:
            name = features[tree.feature[index]]
            node(el, int(left), (name, "lessOrEqual", tree.threshold[index]))
            node(el, int(right), (name, "greaterThan", tree.threshold[index]))

    node(model, 0, None)
    return model


def forest_document(
    estimator: Any, features: Sequence[str], target: str, classes: Sequence[str] | None
) -> ET.Element:
    """A random forest (or a single decision tree) as PMML; ``classes`` None for a regressor."""
    root = _document(features, target, classes)
    trees = getattr(estimator, "estimators_", None)
    if trees is None:
        model = _tree(root, estimator, features, target, classes)
        if classes is not None:
            _probability_outputs(model, classes)
        return root
    function = "classification" if classes is not None else "regression"
    mining = _el(root, "MiningModel", functionName=function)
    _schema(mining, features, target)
    if classes is not None:
        _probability_outputs(mining, classes)
    segmentation = _el(mining, "Segmentation", multipleModelMethod="average")
    for i, tree in enumerate(trees, start=1):
        segment = _el(segmentation, "Segment", id=str(i))
        _el(segment, "True")
        _tree(segment, tree, features, target, classes)
    return root


def logistic_document(
    estimator: Any, features: Sequence[str], target: str, classes: Sequence[str]
) -> ET.Element:
    """A logistic regression as a ``RegressionModel`` (double-precision fields, as scikit-learn computes)."""
    root = _document(features, target, classes, "double")
    binary = len(classes) == 2
    model = _el(
        root,
        "RegressionModel",
        functionName="classification",
        normalizationMethod="logit" if binary else "softmax",
    )
    _schema(model, features, target)
    _probability_outputs(model, classes)
    if binary:  # PMML's logit: the first table is the probability of its category
        rows = [(classes[1], estimator.intercept_[0], estimator.coef_[0]), (classes[0], 0.0, None)]
    else:
        rows = [(c, estimator.intercept_[k], estimator.coef_[k]) for k, c in enumerate(classes)]
    for label, intercept, coefficients in rows:
        table = _el(model, "RegressionTable", targetCategory=label, intercept=repr(float(intercept)))
        if coefficients is not None:
            for name, coefficient in zip(features, coefficients, strict=True):
                _el(table, "NumericPredictor", name=name, coefficient=repr(float(coefficient)))
    return root


def boosting_document(
    estimator: Any, features: Sequence[str], target: str, classes: Sequence[str]
) -> ET.Element:
    """A binary gradient-boosting classifier as a model chain (sklearn2pmml's layout)."""
    root = _document(features, target, classes)
    chain = _el(root, "MiningModel", functionName="classification")
    _schema(chain, features, target)
    _probability_outputs(chain, classes)
    segmentation = _el(chain, "Segmentation", multipleModelMethod="modelChain")
    first = _el(segmentation, "Segment", id="1")
    _el(first, "True")
    ensemble = _el(first, "MiningModel", functionName="regression")
    _schema(ensemble, features, None)
    output = _el(ensemble, "Output")
    _el(
        output,
        "OutputField",
        name="decisionFunction(1)",
        optype="continuous",
        dataType="double",
        feature="predictedValue",
        isFinalResult="false",
    )
    prior = float(estimator.init_.class_prior_[1])
    targets = _el(ensemble, "Targets")
    _el(
        targets,
        "Target",
        rescaleFactor=repr(float(estimator.learning_rate)),
        rescaleConstant=repr(math.log(prior / (1.0 - prior))),
    )
    trees = _el(ensemble, "Segmentation", multipleModelMethod="sum")
    for i, row in enumerate(estimator.estimators_, start=1):
        segment = _el(trees, "Segment", id=str(i))
        _el(segment, "True")
        _tree(segment, row[0], features, None, None)
    second = _el(segmentation, "Segment", id="2")
    _el(second, "True")
    logit = _el(second, "RegressionModel", functionName="classification", normalizationMethod="logit")
    schema = _el(logit, "MiningSchema")
    _el(schema, "MiningField", name=target, usageType="target")
    _el(schema, "MiningField", name="decisionFunction(1)")
    table = _el(logit, "RegressionTable", targetCategory=classes[1], intercept="0.0")
    _el(table, "NumericPredictor", name="decisionFunction(1)", coefficient="1.0")
    _el(logit, "RegressionTable", targetCategory=classes[0], intercept="0.0")
    return root


def mlp_document(estimator: Any, features: Sequence[str], target: str, classes: Sequence[str]) -> ET.Element:
    """A multi-layer perceptron classifier as a ``NeuralNetwork`` (sklearn2pmml's layout)."""
    root = _document(features, target, classes, "double")
    activation = {"relu": "rectifier", "logistic": "logistic", "tanh": "tanh", "identity": "identity"}
    model = _el(
        root,
        "NeuralNetwork",
        functionName="classification",
        activationFunction=activation[estimator.activation],
    )
    _schema(model, features, target)
    _probability_outputs(model, classes)
    inputs = _el(model, "NeuralInputs")
    previous = []
    for j, name in enumerate(features):
        neuron = _el(inputs, "NeuralInput", id=f"input/{j + 1}")
        derived = _el(neuron, "DerivedField", optype="continuous", dataType="double")
        _el(derived, "FieldRef", field=name)
        previous.append(f"input/{j + 1}")
    layers = list(zip(estimator.coefs_, estimator.intercepts_, strict=True))
    for k, (weights, biases) in enumerate(layers, start=1):
        last = k == len(layers)
        attrs: dict[str, Any] = {}
        if last:
            attrs["activationFunction"] = "logistic" if len(classes) == 2 else "identity"
            if len(classes) > 2:
                attrs["normalizationMethod"] = "softmax"
        layer = _el(model, "NeuralLayer", **attrs)
        current = []
        for i, bias in enumerate(biases):
            neuron = _el(layer, "Neuron", id=f"{k}/{i + 1}", bias=repr(float(bias)))
            for j, source in enumerate(previous):
                _el(neuron, "Con", from_=source, weight=repr(float(weights[j][i])))
            current.append(f"{k}/{i + 1}")
        previous = current
    if len(classes) == 2:  # one logistic neuron: P(class 1); P(class 0) = 1 - it
        layer = _el(model, "NeuralLayer", activationFunction="identity", numberOfNeurons="2")
        positive = _el(layer, "Neuron", id="out/2", bias="0.0")
        _el(positive, "Con", from_=previous[0], weight="1.0")
        negative = _el(layer, "Neuron", id="out/1", bias="1.0")
        _el(negative, "Con", from_=previous[0], weight="-1.0")
        previous = ["out/1", "out/2"]
    outputs = _el(model, "NeuralOutputs")
    for neuron_id, label in zip(previous, classes, strict=True):
        output = _el(outputs, "NeuralOutput", outputNeuron=neuron_id)
        derived = _el(output, "DerivedField", optype="categorical", dataType="string")
        _el(derived, "NormDiscrete", field=target, value=label)
    return root


def save(root: ET.Element, path: Path) -> Path:
    """Write a PMML document (indented UTF-8 XML)."""
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def build(folder: Path) -> Sample:
    """A five-tree iris random forest written as ``model.pmml``; expected: scikit-learn's own answer."""
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_iris(return_X_y=True)
    labels = np.array(SPECIES)[y]
    forest = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, labels)
    save(forest_document(forest, FEATURES, "species", list(forest.classes_)), folder / "model.pmml")
    rows = X[::25]
    expected = [
        {
            "species": str(label),
            **{f"probability({c})": float(p) for c, p in zip(forest.classes_, probs, strict=True)},
        }
        for label, probs in zip(forest.predict(rows), forest.predict_proba(rows), strict=True)
    ]
    return Sample(
        model_format="pmml",
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
        expected=expected,
        tolerance=1e-9,
        runtime="kserve-pmmlserver",
        extra={"target": "species", "fields": FEATURES},
    )
