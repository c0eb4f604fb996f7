"""A PMML document: its data dictionary, transformations and model, evaluated record by record.

See :mod:`.models` for the model elements and :mod:`.document` for fields, transformations and
predicates this pure-Python reader supports; anything else fails when the document loads, with a
message naming the element (no Java, no ``pypmml``).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zeroserve.servers.runtimes.pmml.document import (
    DataField,
    Environment,
    PMMLError,
    child,
    children,
    convert,
    local,
    parse_derived_fields,
)
from zeroserve.servers.runtimes.pmml.models import MODEL_ELEMENTS, ModelEvaluator, build_model

__all__ = ["InvalidRecord", "PMMLDocument"]

_NOT_MODELS = {"Header", "MiningBuildTask", "DataDictionary", "TransformationDictionary"}


class InvalidRecord(ValueError):
    """A record's value does not fit its field (the message names the field)."""


class PMMLDocument:
    """A parsed PMML document.

    Args:
        root: the ``<PMML>`` element.

    Raises:
        PMMLError: no supported model, or the model uses something unsupported.
    """

    def __init__(self, root: ET.Element) -> None:
        if local(root) != "PMML":
            raise PMMLError(f"the root element is <{local(root)}>, not <PMML>")
        self.version = root.get("version", "")
        dictionary = child(root, "DataDictionary")
        if dictionary is None:
            raise PMMLError("the document has no DataDictionary")
        self.fields: dict[str, DataField] = {}
        for item in children(dictionary, "DataField"):
            values = tuple(
                v.get("value", "") for v in children(item, "Value") if v.get("property", "valid") == "valid"
            )
            self.fields[item.get("name", "")] = DataField(
                item.get("name", ""), item.get("dataType", "double"), item.get("optype", "continuous"), values
            )
        self.transformations = parse_derived_fields(child(root, "TransformationDictionary"))
        models = [item for item in children(root) if local(item) not in _NOT_MODELS]
        supported = [item for item in models if local(item) in MODEL_ELEMENTS]
        if not supported:
            found = ", ".join(f"<{local(m)}>" for m in models) or "none"
            raise PMMLError(
                f"no supported model element (found {found}); supported: {', '.join(MODEL_ELEMENTS)}"
            )
        self.model: ModelEvaluator = build_model(supported[0], self.fields)

    @classmethod
    def from_file(cls, path: Path) -> PMMLDocument:
        """Parse a ``.pmml`` file.

        Raises:
            PMMLError: not XML, or not a PMML document this reader supports.
        """
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            raise PMMLError(f"not an XML document: {exc}") from None
        return cls(root)

    @property
    def active_fields(self) -> list[str]:
        """The model's input fields, in mining-schema order (the order of a row of values)."""
        return list(self.model.active)

    @property
    def target(self) -> str | None:
        """The predicted field."""
        return self.model.target

    def field_type(self, name: str) -> str:
        """The data type of input field ``name``."""
        spec = self.fields.get(name)
        return spec.data_type if spec is not None else "double"

    def evaluate(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Score one record.

        Args:
            record: active field name -> value (a missing key or None is a missing value).

        Returns:
            The target's predicted value under the target's name, then the model's output fields
            (``probability(<category>)`` for each category when the model declares no output).

        Raises:
            InvalidRecord: a value does not fit its field's type or valid values.
        """
        values: dict[str, Any] = {}
        for name in self.model.active:
            spec = self.fields.get(name)
            raw = record.get(name)
            try:
                value = convert(raw, spec.data_type if spec else "double")
            except (TypeError, ValueError):
                kind = spec.data_type if spec else "double"
                raise InvalidRecord(f"field {name!r}: {raw!r} is not a {kind}") from None
            categorical = spec is not None and spec.values and spec.optype != "continuous"
            if value is not None and categorical and spec is not None and str(value) not in spec.values:
                raise InvalidRecord(f"field {name!r}: {raw!r} is not one of {list(spec.values)}")
            values[name] = value
        env = Environment(values, self.transformations, self.fields)
        prediction = self.model.evaluate(env)
        outputs = self.model.outputs(env, prediction)
        result: dict[str, Any] = {self.target or "predicted": prediction.value}
        final = {
            item.get("name", ""): item.get("isFinalResult", "true") != "false"
            for item in self.model.output_fields
        }
        result.update({k: v for k, v in outputs.items() if final.get(k, True)})
        if not self.model.output_fields and prediction.probabilities:
            for category, p in prediction.probabilities.items():
                result[f"probability({category})"] = p
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in result.items()}
