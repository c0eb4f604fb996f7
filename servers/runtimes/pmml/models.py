"""PMML model elements, evaluated one record at a time.

Supported models:

- ``RegressionModel``: regression and classification; ``NumericPredictor`` (with ``exponent``),
  ``CategoricalPredictor``, ``PredictorTerm``; ``normalizationMethod`` none, softmax, simplemax,
  logit, probit, cloglog, loglog, cauchit, exp.
- ``GeneralRegressionModel`` where simple: ``modelType`` regression, generalLinear (identity link),
  logisticRegression (binary) and multinomialLogistic, with covariates and factors through a
  ``PPMatrix`` and one ``ParamMatrix``.
- ``TreeModel``: ``Node`` / ``ScoreDistribution``, ``noTrueChildStrategy`` returnNullPrediction and
  returnLastPrediction; a predicate on a missing value counts as false.
- ``MiningModel``: ``Segmentation`` with ``multipleModelMethod`` sum, average, weightedAverage,
  median, max, majorityVote, weightedMajorityVote, selectFirst, selectAll (first), and modelChain (the
  output fields of a segment are inputs of the next, as sklearn2pmml writes gradient boosting).

Every model may have ``LocalTransformations``, ``Targets`` (``rescaleFactor``, ``rescaleConstant``,
``castInteger``) and ``Output`` (``predictedValue``, ``probability``, ``entityId``,
``transformedValue``). ``NeuralNetwork`` is in :mod:`.neural`. Other model elements
(SupportVectorMachineModel, NaiveBayesModel, ...) raise :class:`~.document.PMMLError` naming them
when the document loads.
"""

from __future__ import annotations

import math
import statistics
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from zeroserve.servers.runtimes.pmml.base import ModelEvaluator, Prediction, typed_value
from zeroserve.servers.runtimes.pmml.document import (
    DataField,
    Environment,
    PMMLError,
    child,
    children,
    evaluate_predicate,
    find_predicate,
    local,
)
from zeroserve.servers.runtimes.pmml.neural import NeuralNetworkEvaluator

__all__ = ["MODEL_ELEMENTS", "ModelEvaluator", "Prediction", "build_model"]


# -- RegressionModel ------------------------------------------------------------------------------


class RegressionEvaluator(ModelEvaluator):
    """``RegressionModel``."""

    def __init__(self, element: ET.Element, fields: Mapping[str, DataField]) -> None:
        super().__init__(element, fields)
        self.normalization = element.get("normalizationMethod", "none")
        self.tables = list(children(element, "RegressionTable"))
        if not self.tables:
            raise PMMLError("RegressionModel has no RegressionTable")
        for table in self.tables:
            for item in children(table):
                if local(item) not in ("NumericPredictor", "CategoricalPredictor", "PredictorTerm"):
                    raise PMMLError(f"RegressionTable: <{local(item)}> is not supported")

    def _linear(self, table: ET.Element, env: Environment) -> float | None:
        total = float(table.get("intercept", 0.0))
        for item in children(table):
            tag = local(item)
            coefficient = float(item.get("coefficient", 0.0))
            if tag == "NumericPredictor":
                value = env.get(item.get("name", ""))
                if value is None:
                    return None
                total += coefficient * float(value) ** float(item.get("exponent", 1))
            elif tag == "CategoricalPredictor":
                value = env.get(item.get("name", ""))
                if value is None:
                    return None
                total += coefficient if str(value) == item.get("value") else 0.0
            else:  # PredictorTerm: a product of fields
                product = coefficient
                for ref in children(item, "FieldRef"):
                    value = env.get(ref.get("field", ""))
                    if value is None:
                        return None
                    product *= float(value)
                total += product
        return total

    def score(self, env: Environment) -> Prediction:
        if self.function == "regression":
            y = self._linear(self.tables[0], env)
            if y is None:
                return Prediction(None)
            return Prediction(_link(self.normalization, y) if self.normalization != "none" else y)
        scores = [self._linear(t, env) for t in self.tables]
        if any(s is None for s in scores):
            return Prediction(None)
        values = [float(s) for s in scores if s is not None]
        labels = [t.get("targetCategory", "") for t in self.tables]
        probabilities = _normalize(self.normalization, values)
        best = max(range(len(labels)), key=lambda i: probabilities[i])
        return Prediction(
            typed_value(labels[best], self.target_type()), dict(zip(labels, probabilities, strict=True))
        )


def _link(method: str, y: float) -> float:
    if method in ("logit", "softmax"):
        return 1.0 / (1.0 + math.exp(-y))
    if method == "exp":
        return math.exp(y)
    if method == "probit":
        return 0.5 * (1.0 + math.erf(y / math.sqrt(2.0)))
    if method == "cloglog":
        return 1.0 - math.exp(-math.exp(y))
    if method == "loglog":
        return math.exp(-math.exp(-y))
    if method == "cauchit":
        return 0.5 + math.atan(y) / math.pi
    raise PMMLError(f"normalizationMethod {method!r} is not supported")


def _normalize(method: str, values: list[float]) -> list[float]:
    if method == "softmax":
        top = max(values)
        exps = [math.exp(v - top) for v in values]
        total = sum(exps)
        return [e / total for e in exps]
    if method == "simplemax":
        total = sum(values)
        return [v / total for v in values]
    if method == "none":
        if len(values) >= 2:
            return [*values[:-1], 1.0 - sum(values[:-1])]
        return values
    probs = [_link(method, v) for v in values[:-1]]
    if len(values) == 2:
        return [probs[0], 1.0 - probs[0]]
    return [*probs, max(0.0, 1.0 - sum(probs))]


# -- GeneralRegressionModel -----------------------------------------------------------------------


class GeneralRegressionEvaluator(ModelEvaluator):
    """``GeneralRegressionModel`` (the simple forms, see the module docstring)."""

    _TYPES = ("regression", "generalLinear", "logisticRegression", "multinomialLogistic")

    def __init__(self, element: ET.Element, fields: Mapping[str, DataField]) -> None:
        super().__init__(element, fields)
        self.model_type = element.get("modelType", "")
        if self.model_type not in self._TYPES:
            raise PMMLError(
                f"GeneralRegressionModel modelType {self.model_type!r} is not supported; "
                f"supported: {', '.join(self._TYPES)}"
            )
        link = element.get("linkFunction")
        if self.model_type == "generalLinear" and link not in (None, "identity"):
            raise PMMLError(f"GeneralRegressionModel linkFunction {link!r} is not supported (identity only)")
        self.cells: dict[str, list[tuple[str, str | None]]] = {}
        matrix = child(element, "PPMatrix")
        for cell in children(matrix, "PPCell") if matrix is not None else ():
            self.cells.setdefault(cell.get("parameterName", ""), []).append(
                (cell.get("predictorName", ""), cell.get("value"))
            )
        self.factors = {p.get("name", "") for p in children(child(element, "FactorList") or ET.Element("x"))}
        self.params: dict[str | None, dict[str, float]] = {}
        params = child(element, "ParamMatrix")
        for cell in children(params, "PCell") if params is not None else ():
            self.params.setdefault(cell.get("targetCategory"), {})[cell.get("parameterName", "")] = float(
                cell.get("beta", 0.0)
            )
        self.reference = element.get("targetReferenceCategory")

    def _eta(self, betas: Mapping[str, float], env: Environment) -> float | None:
        total = 0.0
        for parameter, beta in betas.items():
            term = 1.0
            for predictor, value in self.cells.get(parameter, []):
                x = env.get(predictor)
                if x is None:
                    return None
                if predictor in self.factors:
                    term *= 1.0 if str(x) == value else 0.0
                else:
                    term *= float(x) ** float(value or 1)
            total += beta * term
        return total

    def score(self, env: Environment) -> Prediction:
        if self.model_type in ("regression", "generalLinear"):
            return Prediction(self._eta(next(iter(self.params.values()), {}), env))
        labels = self.categories
        etas = {c: self._eta(b, env) for c, b in self.params.items() if c is not None}
        if any(v is None for v in etas.values()):
            return Prediction(None)
        reference = self.reference or next((c for c in labels if c not in etas), None)
        exps = {c: math.exp(float(v or 0.0)) for c, v in etas.items()}
        if reference is not None and reference not in exps:
            exps[reference] = 1.0
        total = sum(exps.values())
        probabilities = {c: e / total for c, e in exps.items()}
        best = max(probabilities, key=lambda c: probabilities[c])
        return Prediction(typed_value(best, self.target_type()), probabilities)


# -- TreeModel ------------------------------------------------------------------------------------


class TreeEvaluator(ModelEvaluator):
    """``TreeModel``."""

    def __init__(self, element: ET.Element, fields: Mapping[str, DataField]) -> None:
        super().__init__(element, fields)
        self.root = child(element, "Node")
        if self.root is None:
            raise PMMLError("TreeModel has no Node")
        self.strategy = element.get("noTrueChildStrategy", "returnNullPrediction")
        self._check(self.root)

    def _check(self, node: ET.Element) -> None:
        find_predicate(node)
        for item in children(node, "Node"):
            self._check(item)

    def score(self, env: Environment) -> Prediction:
        node = self.root
        assert node is not None
        if evaluate_predicate(find_predicate(node), env) is not True:
            return Prediction(None)
        while True:
            chosen = next(
                (n for n in children(node, "Node") if evaluate_predicate(find_predicate(n), env)), None
            )
            if chosen is None:
                if any(True for _ in children(node, "Node")) and self.strategy == "returnNullPrediction":
                    return Prediction(None)
                return self._leaf(node)
            node = chosen

    def _leaf(self, node: ET.Element) -> Prediction:
        distribution = list(children(node, "ScoreDistribution"))
        probabilities: dict[str, float] | None = None
        if distribution:
            given = [d.get("probability") for d in distribution]
            if all(p is not None for p in given):
                probabilities = {d.get("value", ""): float(d.get("probability", 0.0)) for d in distribution}
            else:
                counts = {d.get("value", ""): float(d.get("recordCount", 0.0)) for d in distribution}
                total = sum(counts.values()) or 1.0
                probabilities = {k: v / total for k, v in counts.items()}
        score = node.get("score")
        if score is None and probabilities:
            score = max(probabilities, key=lambda k: probabilities[k])
        kind = "double" if self.function == "regression" else self.target_type()
        return Prediction(typed_value(score, kind), probabilities, node.get("id"))


# -- MiningModel ----------------------------------------------------------------------------------


class MiningEvaluator(ModelEvaluator):
    """``MiningModel`` with a ``Segmentation``."""

    _METHODS = (
        "sum",
        "average",
        "weightedAverage",
        "median",
        "max",
        "majorityVote",
        "weightedMajorityVote",
        "selectFirst",
        "selectAll",
        "modelChain",
    )

    def __init__(self, element: ET.Element, fields: Mapping[str, DataField]) -> None:
        super().__init__(element, fields)
        segmentation = child(element, "Segmentation")
        if segmentation is None:
            raise PMMLError("MiningModel has no Segmentation")
        self.method = segmentation.get("multipleModelMethod", "")
        if self.method not in self._METHODS:
            raise PMMLError(
                f"Segmentation multipleModelMethod {self.method!r} is not supported; "
                f"supported: {', '.join(self._METHODS)}"
            )
        self.segments: list[tuple[ET.Element, float, ModelEvaluator]] = []
        for segment in children(segmentation, "Segment"):
            find_predicate(segment)
            model = next((item for item in children(segment) if local(item) in MODEL_ELEMENTS), None)
            if model is None:
                tags = [local(item) for item in children(segment)]
                raise PMMLError(f"Segment {segment.get('id', '?')} holds no supported model ({tags})")
            self.segments.append((segment, float(segment.get("weight", 1.0)), build_model(model, fields)))

    def score(self, env: Environment) -> Prediction:
        results: list[tuple[float, Prediction]] = []
        for segment, weight, model in self.segments:
            if evaluate_predicate(find_predicate(segment), env) is not True:
                continue
            prediction = model.evaluate(env)
            model.outputs(env, prediction)
            if self.method in ("selectFirst", "selectAll"):
                return prediction
            results.append((weight, prediction))
        if not results:
            return Prediction(None)
        if self.method == "modelChain":
            return results[-1][1]
        if self.function == "regression":
            return Prediction(self._combine_numbers(results))
        return self._combine_classes(results)

    def _combine_numbers(self, results: list[tuple[float, Prediction]]) -> float | None:
        values = [(w, p.value) for w, p in results]
        if any(v is None for _, v in values):
            return None
        numbers = [(w, float(v)) for w, v in values]
        if self.method == "sum":
            return sum(v for _, v in numbers)
        if self.method == "average":
            return sum(v for _, v in numbers) / len(numbers)
        if self.method == "weightedAverage":
            return sum(w * v for w, v in numbers) / sum(w for w, _ in numbers)
        if self.method == "median":
            return float(statistics.median(v for _, v in numbers))
        if self.method == "max":
            return max(v for _, v in numbers)
        raise PMMLError(f"multipleModelMethod {self.method!r} does not apply to a regression")

    def _combine_classes(self, results: list[tuple[float, Prediction]]) -> Prediction:
        totals: dict[str, float] = {}
        if self.method in ("majorityVote", "weightedMajorityVote"):
            for weight, prediction in results:
                if prediction.value is not None:
                    key = str(prediction.value)
                    totals[key] = totals.get(key, 0.0) + (
                        weight if self.method.startswith("weighted") else 1.0
                    )
            total = sum(totals.values()) or 1.0
            probabilities = {k: v / total for k, v in totals.items()}
        elif self.method in ("average", "weightedAverage", "max"):
            weights = 0.0
            for weight, prediction in results:
                w = weight if self.method == "weightedAverage" else 1.0
                weights += w
                for key, p in (prediction.probabilities or {}).items():
                    if self.method == "max":
                        totals[key] = max(totals.get(key, 0.0), p)
                    else:
                        totals[key] = totals.get(key, 0.0) + w * p
            probabilities = totals if self.method == "max" else {k: v / weights for k, v in totals.items()}
        else:
            raise PMMLError(f"multipleModelMethod {self.method!r} does not apply to a classification")
        if not probabilities:
            return Prediction(None)
        order = self.categories
        best = max(probabilities, key=lambda k: (probabilities[k], -order.index(k) if k in order else 0))
        for category in order:
            probabilities.setdefault(category, 0.0)
        return Prediction(typed_value(best, self.target_type()), probabilities)


MODEL_ELEMENTS: dict[str, type[ModelEvaluator]] = {
    "RegressionModel": RegressionEvaluator,
    "GeneralRegressionModel": GeneralRegressionEvaluator,
    "TreeModel": TreeEvaluator,
    "MiningModel": MiningEvaluator,
    "NeuralNetwork": NeuralNetworkEvaluator,
}
"""Model element -> evaluator class."""


def build_model(element: ET.Element, fields: Mapping[str, DataField]) -> ModelEvaluator:
    """The evaluator of a model element.

    Raises:
        PMMLError: the element is not a supported model, or uses something unsupported.
    """
    tag = local(element)
    evaluator = MODEL_ELEMENTS.get(tag)
    if evaluator is None:
        raise PMMLError(f"model element <{tag}> is not supported; supported: {', '.join(MODEL_ELEMENTS)}")
    if element.get("isScorable", "true") == "false":
        raise PMMLError(f"<{tag}> is marked isScorable=false")
    return evaluator(element, fields)
