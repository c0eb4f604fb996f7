"""PMML ``NeuralNetwork``: feed-forward layers of neurons, as sklearn2pmml writes an MLP.

Supported: ``NeuralInputs`` (each a ``DerivedField`` expression), ``NeuralLayer`` with the network's
or its own ``activationFunction`` (threshold, logistic, tanh, identity, exponential, reciprocal,
square, Gauss, sine, cosine, Elliott, arctan, rectifier) and ``normalizationMethod`` (none, softmax,
simplemax), ``Neuron`` ``bias`` and ``Con`` weights; ``NeuralOutputs`` whose ``DerivedField`` is a
``NormDiscrete`` (classification: the neuron is that category's probability), a ``FieldRef`` or a
``NormContinuous`` of the target (regression, de-normalised). ``width`` and radial-basis networks
(``altitude``) are not supported and fail at load.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping

from zeroserve.servers.runtimes.pmml.base import ModelEvaluator, Prediction, typed_value
from zeroserve.servers.runtimes.pmml.document import (
    DataField,
    Environment,
    PMMLError,
    child,
    children,
    evaluate_expression,
    local,
)

__all__ = ["NeuralNetworkEvaluator"]

_ACTIVATIONS: dict[str, Callable[[float, float], float]] = {
    "threshold": lambda z, t: 1.0 if z > t else 0.0,
    "logistic": lambda z, t: 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0,
    "tanh": lambda z, t: math.tanh(z),
    "identity": lambda z, t: z,
    "exponential": lambda z, t: math.exp(z),
    "reciprocal": lambda z, t: 1.0 / z,
    "square": lambda z, t: z * z,
    "Gauss": lambda z, t: math.exp(-z * z),
    "sine": lambda z, t: math.sin(z),
    "cosine": lambda z, t: math.cos(z),
    "Elliott": lambda z, t: z / (1.0 + abs(z)),
    "arctan": lambda z, t: 2.0 * math.atan(z) / math.pi,
    "rectifier": lambda z, t: max(0.0, z),
}

Layer = tuple[str, str, list[tuple[str, float, list[tuple[str, float]]]]]


class NeuralNetworkEvaluator(ModelEvaluator):
    """``NeuralNetwork``."""

    def __init__(self, element: ET.Element, fields: Mapping[str, DataField]) -> None:
        super().__init__(element, fields)
        self.threshold = float(element.get("threshold", 0.0))
        activation = element.get("activationFunction", "")
        normalization = element.get("normalizationMethod", "none")
        inputs = child(element, "NeuralInputs")
        if inputs is None:
            raise PMMLError("NeuralNetwork has no NeuralInputs")
        self.neural_inputs: list[tuple[str, ET.Element]] = []
        for item in children(inputs, "NeuralInput"):
            derived = child(item, "DerivedField")
            expression = next(children(derived), None) if derived is not None else None
            if expression is None:
                raise PMMLError(f"NeuralInput {item.get('id')!r} has no DerivedField expression")
            self.neural_inputs.append((item.get("id", ""), expression))
        self.layers: list[Layer] = []
        for layer in children(element, "NeuralLayer"):
            function = layer.get("activationFunction", activation)
            if function not in _ACTIVATIONS:
                raise PMMLError(
                    f"NeuralLayer activationFunction {function!r} is not supported; "
                    f"supported: {', '.join(_ACTIVATIONS)}"
                )
            method = layer.get("normalizationMethod", normalization)
            if method not in ("none", "softmax", "simplemax"):
                raise PMMLError(f"NeuralLayer normalizationMethod {method!r} is not supported")
            neurons = []
            for neuron in children(layer, "Neuron"):
                if neuron.get("width") is not None or neuron.get("altitude") is not None:
                    raise PMMLError("radial-basis neurons (width, altitude) are not supported")
                weights = [(c.get("from", ""), float(c.get("weight", 0.0))) for c in children(neuron, "Con")]
                neurons.append((neuron.get("id", ""), float(neuron.get("bias", 0.0)), weights))
            self.layers.append((function, method, neurons))
        outputs = child(element, "NeuralOutputs")
        if outputs is None or not self.layers:
            raise PMMLError("NeuralNetwork needs NeuralLayer and NeuralOutputs elements")
        self.neural_outputs: list[tuple[str, ET.Element]] = []
        for item in children(outputs, "NeuralOutput"):
            derived = child(item, "DerivedField")
            expression = next(children(derived), None) if derived is not None else None
            if expression is None or local(expression) not in ("NormDiscrete", "FieldRef", "NormContinuous"):
                raise PMMLError(
                    f"NeuralOutput {item.get('outputNeuron')!r}: expected a DerivedField with NormDiscrete, "
                    "FieldRef or NormContinuous"
                )
            self.neural_outputs.append((item.get("outputNeuron", ""), expression))

    def score(self, env: Environment) -> Prediction:
        values: dict[str, float] = {}
        for neuron, expression in self.neural_inputs:
            value = evaluate_expression(expression, env)
            if value is None:
                return Prediction(None)
            values[neuron] = float(value)
        for function, method, neurons in self.layers:
            activate = _ACTIVATIONS[function]
            layer = {
                nid: activate(bias + sum(w * values[src] for src, w in weights), self.threshold)
                for nid, bias, weights in neurons
            }
            if method == "softmax":
                top = max(layer.values())
                exps = {k: math.exp(v - top) for k, v in layer.items()}
                total = sum(exps.values())
                layer = {k: v / total for k, v in exps.items()}
            elif method == "simplemax":
                total = sum(layer.values())
                layer = {k: v / total for k, v in layer.items()}
            values.update(layer)
        if self.function == "classification":
            probabilities = {
                str(expression.get("value")): values[neuron]
                for neuron, expression in self.neural_outputs
                if local(expression) == "NormDiscrete"
            }
            if not probabilities:
                raise PMMLError("a classification NeuralNetwork needs NormDiscrete outputs")
            best = max(probabilities, key=lambda k: probabilities[k])
            return Prediction(typed_value(best, self.target_type()), probabilities)
        neuron, expression = self.neural_outputs[0]
        return Prediction(_denormalize(expression, values[neuron]))


def _denormalize(expression: ET.Element, y: float) -> float:
    """The target value of a regression output neuron (inverting a ``NormContinuous``)."""
    if local(expression) != "NormContinuous":
        return y
    points = [(float(p.get("orig", 0)), float(p.get("norm", 0))) for p in children(expression, "LinearNorm")]
    if len(points) < 2:
        raise PMMLError("NormContinuous needs at least two LinearNorm points")
    points.sort(key=lambda p: p[1])
    segment = next((i for i in range(1, len(points)) if y <= points[i][1]), len(points) - 1)
    (x0, n0), (x1, n1) = points[segment - 1], points[segment]
    return x0 + (y - n0) * (x1 - x0) / (n1 - n0)
