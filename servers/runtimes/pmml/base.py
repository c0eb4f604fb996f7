"""What every PMML model element shares: the mining schema, local transformations, targets and output.

:class:`ModelEvaluator` reads them; each model element (see :mod:`.models`, :mod:`.neural`) adds its
own ``score``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zeroserve.servers.runtimes.pmml.document import (
    DataField,
    Environment,
    PMMLError,
    child,
    children,
    convert,
    evaluate_expression,
    local,
    parse_derived_fields,
)

__all__ = ["ModelEvaluator", "Prediction", "typed_value"]


@dataclass
class Prediction:
    """What a model computed for one record."""

    value: Any
    """The predicted value (a category for classification), None when the model cannot say."""
    probabilities: dict[str, float] | None = None
    """Category -> probability, for classification."""
    entity_id: str | None = None
    """The id of the tree node that decided, for trees."""


class ModelEvaluator:
    """The parts every model element shares: mining schema, local transformations, targets, output.

    Args:
        element: the model element.
        fields: the data dictionary.
    """

    def __init__(self, element: ET.Element, fields: Mapping[str, DataField]) -> None:
        self.element = element
        self.fields = fields
        self.function = element.get("functionName", "regression")
        schema = child(element, "MiningSchema")
        if schema is None:
            raise PMMLError(f"<{local(element)}> has no MiningSchema")
        self.active: list[str] = []
        self.target: str | None = None
        self.missing_replacement: dict[str, str] = {}
        for item in children(schema, "MiningField"):
            name = item.get("name", "")
            usage = item.get("usageType", "active")
            if usage in ("predicted", "target"):
                self.target = self.target or name
            elif usage == "active":
                self.active.append(name)
                if item.get("missingValueReplacement") is not None:
                    self.missing_replacement[name] = item.get("missingValueReplacement", "")
        self.local_fields = parse_derived_fields(child(element, "LocalTransformations"))
        output = child(element, "Output")
        self.output_fields = list(children(output, "OutputField")) if output is not None else []
        self.rescale = (1.0, 0.0, False)
        self.target_values: list[str] = []
        targets = child(element, "Targets")
        if targets is not None:
            for target in children(targets, "Target"):
                if target.get("field") in (None, self.target):
                    self.rescale = (
                        float(target.get("rescaleFactor", 1.0)),
                        float(target.get("rescaleConstant", 0.0)),
                        target.get("castInteger") is not None,
                    )
                    self.target_values = [v.get("value", "") for v in children(target, "TargetValue")]

    @property
    def categories(self) -> list[str]:
        """The target's categories (data dictionary order), for classification."""
        if self.target and self.target in self.fields and self.fields[self.target].values:
            return list(self.fields[self.target].values)
        return list(self.target_values)

    def target_type(self) -> str:
        """The target field's data type."""
        if self.target and self.target in self.fields:
            return self.fields[self.target].data_type
        return "string" if self.function == "classification" else "double"

    def evaluate(self, env: Environment) -> Prediction:
        """Score one record: local transformations, the model, then ``Targets``."""
        for name, value in self.missing_replacement.items():
            if env.values.get(name) is None:
                env.values[name] = convert(value, env.data_type(name))
        env = env.child(self.local_fields)
        prediction = self.score(env)
        if self.function == "regression" and isinstance(prediction.value, float):
            factor, constant, cast = self.rescale
            scaled = prediction.value * factor + constant
            prediction.value = float(round(scaled)) if cast else scaled
        return prediction

    def score(self, env: Environment) -> Prediction:
        """The model's own computation (each model element implements it)."""
        raise NotImplementedError

    def outputs(self, env: Environment, prediction: Prediction) -> dict[str, Any]:
        """The ``Output`` fields for ``prediction``, also written into ``env`` (for model chains)."""
        out: dict[str, Any] = {}
        for item in self.output_fields:
            name = item.get("name", "")
            feature = item.get("feature", "predictedValue")
            value: Any
            if feature == "predictedValue":
                value = prediction.value
            elif feature == "probability":
                wanted = item.get("value", prediction.value)
                value = (prediction.probabilities or {}).get(str(wanted))
            elif feature == "entityId":
                value = prediction.entity_id
            elif feature == "transformedValue":
                expression = next(children(item), None)
                if expression is None:
                    raise PMMLError(f"OutputField {name!r} (transformedValue) has no expression")
                value = evaluate_expression(expression, env)
            else:
                raise PMMLError(
                    f"OutputField {name!r}: feature {feature!r} is not supported; supported: "
                    "predictedValue, probability, entityId, transformedValue"
                )
            if value is not None and item.get("dataType"):
                value = convert(value, item.get("dataType", "double"))
            env.values[name] = value
            out[name] = value
        return out


def typed_value(value: Any, data_type: str) -> Any:
    try:
        return convert(value, data_type)
    except (TypeError, ValueError):
        return value
