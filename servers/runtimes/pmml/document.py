"""PMML documents: the data dictionary, field values, predicates and expressions.

Parsed with :mod:`xml.etree.ElementTree`, namespace-agnostic (PMML 3.x and 4.x). Supported:

- ``DataDictionary`` fields (``dataType`` string, integer, float, double, boolean; ``optype``; ``Value``);
- ``TransformationDictionary`` / ``LocalTransformations`` derived fields with ``FieldRef``,
  ``Constant``, ``NormContinuous`` (``LinearNorm``), ``NormDiscrete``, ``MapValues`` (inline table),
  ``Discretize`` and ``Apply`` (arithmetic, comparisons, ``and``/``or``/``not``, ``if``, ``isMissing``,
  ``isNotMissing``, ``exp``, ``ln``, ``log10``, ``sqrt``, ``abs``, ``pow``, ``min``, ``max``, ``sum``,
  ``avg``, ``floor``, ``ceil``, ``round``, ``threshold``);
- predicates ``True``, ``False``, ``SimplePredicate``, ``SimpleSetPredicate``, ``CompoundPredicate``
  (``and``, ``or``, ``xor``, ``surrogate``) with PMML's three-valued logic (missing -> unknown).

Anything else raises :class:`PMMLError` naming the element, at load time where it can be seen then.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DataField",
    "Environment",
    "PMMLError",
    "child",
    "children",
    "convert",
    "evaluate_expression",
    "evaluate_predicate",
    "local",
    "parse_derived_fields",
]


class PMMLError(ValueError):
    """The document uses something this reader does not support, or is malformed; the message says what."""


def local(element: ET.Element) -> str:
    """The element's tag without its namespace."""
    tag = element.tag
    return tag.rsplit("}", 1)[1] if "}" in tag else tag


def children(element: ET.Element, name: str | None = None) -> Iterator[ET.Element]:
    """The element's children (with tag ``name`` only, when given), skipping ``Extension``."""
    for item in element:
        tag = local(item)
        if tag == "Extension":
            continue
        if name is None or tag == name:
            yield item


def child(element: ET.Element, name: str) -> ET.Element | None:
    """The first child called ``name``, or None."""
    return next(children(element, name), None)


def convert(value: Any, data_type: str) -> Any:
    """A value as ``data_type`` says (``float`` rounds to single precision); None stays None.

    Raises:
        ValueError: the value cannot be read as that type.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if data_type in ("double", "float", "integer"):
        if isinstance(value, str):
            value = value.strip()
        number = float(value)
        if data_type == "float":
            return float(np.float32(number))
        if data_type == "integer":
            return int(number) if number == int(number) else number
        return number
    if data_type == "boolean":
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)
    if isinstance(value, float) and value == int(value):
        value = int(value)  # a category written as 1 arrives as 1.0 through a float tensor
    return str(value)


@dataclass(frozen=True)
class DataField:
    """A field of the data dictionary (or a derived field)."""

    name: str
    data_type: str = "double"
    optype: str = "continuous"
    values: tuple[str, ...] = ()


@dataclass
class Environment:
    """Field values while one record is evaluated: inputs, derived fields (computed once), outputs."""

    values: dict[str, Any]
    derived: Mapping[str, tuple[DataField, ET.Element]] = field(default_factory=dict)
    fields: Mapping[str, DataField] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        """The value of field ``name`` (None when missing).

        Raises:
            PMMLError: no such field anywhere.
        """
        if name in self.values:
            return self.values[name]
        spec = self.derived.get(name)
        if spec is None:
            if name in self.fields:
                return None
            raise PMMLError(f"the document refers to field {name!r}, which it never defines")
        derived_field, expression = spec
        value = evaluate_expression(expression, self)
        try:
            value = convert(value, derived_field.data_type)
        except (TypeError, ValueError):
            value = None
        self.values[name] = value
        return value

    def data_type(self, name: str) -> str:
        """The declared data type of field ``name`` (``double`` when unknown)."""
        spec = self.derived.get(name)
        if spec is not None:
            return spec[0].data_type
        known = self.fields.get(name)
        return known.data_type if known is not None else "double"

    def child(self, derived: Mapping[str, tuple[DataField, ET.Element]]) -> Environment:
        """The same record with more derived fields (a model's ``LocalTransformations``)."""
        if not derived:
            return self
        return Environment(self.values, {**self.derived, **derived}, self.fields)


def parse_derived_fields(element: ET.Element | None) -> dict[str, tuple[DataField, ET.Element]]:
    """The ``DerivedField`` children of a ``TransformationDictionary`` / ``LocalTransformations``."""
    out: dict[str, tuple[DataField, ET.Element]] = {}
    if element is None:
        return out
    for item in children(element, "DerivedField"):
        name = item.get("name")
        expression = next(children(item), None)
        if name is None or expression is None:
            raise PMMLError("a DerivedField needs a name and an expression")
        _check_expression(expression)
        spec = DataField(name, item.get("dataType", "double"), item.get("optype", "continuous"))
        out[name] = (spec, expression)
    return out


_EXPRESSIONS = {
    "FieldRef",
    "Constant",
    "NormContinuous",
    "NormDiscrete",
    "MapValues",
    "Discretize",
    "Apply",
}


def _check_expression(element: ET.Element) -> None:
    tag = local(element)
    if tag not in _EXPRESSIONS:
        raise PMMLError(f"expression <{tag}> is not supported; supported: {', '.join(sorted(_EXPRESSIONS))}")
    if tag == "Apply":
        function = element.get("function", "")
        if function not in _FUNCTIONS:
            raise PMMLError(
                f"<Apply function={function!r}> is not supported; supported: {', '.join(_FUNCTIONS)}"
            )
        for item in children(element):
            _check_expression(item)


def evaluate_expression(element: ET.Element, env: Environment) -> Any:
    """The value of a PMML expression element for the record in ``env`` (None when missing)."""
    tag = local(element)
    if tag == "FieldRef":
        value = env.get(element.get("field", ""))
        return value if value is not None else element.get("mapMissingTo")
    if tag == "Constant":
        return convert(
            element.text, element.get("dataType", "double" if _is_number(element.text) else "string")
        )
    if tag == "NormContinuous":
        return _norm_continuous(element, env)
    if tag == "NormDiscrete":
        value = env.get(element.get("field", ""))
        if value is None:
            return element.get("mapMissingTo")
        return 1.0 if str(value) == element.get("value") else 0.0
    if tag == "MapValues":
        return _map_values(element, env)
    if tag == "Discretize":
        return _discretize(element, env)
    if tag == "Apply":
        args = [evaluate_expression(item, env) for item in children(element)]
        function = element.get("function", "")
        if function not in ("isMissing", "isNotMissing", "if", "and", "or") and any(a is None for a in args):
            return element.get("mapMissingTo")
        result = _FUNCTIONS[function](*args)
        return result
    raise PMMLError(f"expression <{tag}> is not supported")


def _is_number(text: str | None) -> bool:
    try:
        float(text or "")
    except ValueError:
        return False
    return True


def _norm_continuous(element: ET.Element, env: Environment) -> Any:
    value = env.get(element.get("field", ""))
    if value is None:
        return convert(element.get("mapMissingTo"), "double")
    points = [(float(p.get("orig", 0)), float(p.get("norm", 0))) for p in children(element, "LinearNorm")]
    if len(points) < 2:
        raise PMMLError("NormContinuous needs at least two LinearNorm points")
    x = float(value)
    if x < points[0][0] or x > points[-1][0]:
        if element.get("outliers") == "asMissingValues":
            return None
        if element.get("outliers") == "asExtremeValues":
            return points[0][1] if x < points[0][0] else points[-1][1]
    segment = next((i for i in range(1, len(points)) if x <= points[i][0]), len(points) - 1)
    (x0, y0), (x1, y1) = points[segment - 1], points[segment]
    return y0 + (x - x0) * (y1 - y0) / (x1 - x0)


def _map_values(element: ET.Element, env: Environment) -> Any:
    pairs = {p.get("column", ""): p.get("field", "") for p in children(element, "FieldColumnPair")}
    values = {column: env.get(name) for column, name in pairs.items()}
    if any(v is None for v in values.values()):
        return element.get("mapMissingTo")
    table = child(element, "InlineTable")
    if table is None:
        raise PMMLError("MapValues is supported with an InlineTable only")
    out = element.get("outputColumn", "")
    for row in children(table, "row"):
        cells = {local(c): (c.text or "").strip() for c in row}
        if all(cells.get(column) == str(v) for column, v in values.items()):
            return cells.get(out)
    return element.get("defaultValue")


def _discretize(element: ET.Element, env: Environment) -> Any:
    value = env.get(element.get("field", ""))
    if value is None:
        return element.get("mapMissingTo")
    x = float(value)
    for item in children(element, "DiscretizeBin"):
        interval = child(item, "Interval")
        if interval is not None and _in_interval(x, interval):
            return item.get("binValue")
    return element.get("defaultValue")


def _in_interval(x: float, interval: ET.Element) -> bool:
    closure = interval.get("closure", "closedClosed")
    left, right = interval.get("leftMargin"), interval.get("rightMargin")
    if left is not None and (x < float(left) or (x == float(left) and closure.startswith("open"))):
        return False
    return not (right is not None and (x > float(right) or (x == float(right) and closure.endswith("Open"))))


def _if(condition: Any, then: Any = None, otherwise: Any = None) -> Any:
    if condition is None:
        return None
    return then if condition else otherwise


def _threshold(x: float, t: float) -> float:
    return 1.0 if x > t else 0.0


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "+": lambda a, b: float(a) + float(b),
    "-": lambda a, b: float(a) - float(b),
    "*": lambda a, b: float(a) * float(b),
    "/": lambda a, b: float(a) / float(b) if float(b) != 0 else None,
    "equal": lambda a, b: a == b,
    "notEqual": lambda a, b: a != b,
    "lessThan": lambda a, b: float(a) < float(b),
    "lessOrEqual": lambda a, b: float(a) <= float(b),
    "greaterThan": lambda a, b: float(a) > float(b),
    "greaterOrEqual": lambda a, b: float(a) >= float(b),
    "and": lambda *a: None if any(x is None for x in a) else all(a),
    "or": lambda *a: None if any(x is None for x in a) else any(a),
    "not": lambda a: not a,
    "if": _if,
    "isMissing": lambda a: a is None,
    "isNotMissing": lambda a: a is not None,
    "exp": lambda a: math.exp(float(a)),
    "ln": lambda a: math.log(float(a)) if float(a) > 0 else None,
    "log10": lambda a: math.log10(float(a)) if float(a) > 0 else None,
    "sqrt": lambda a: math.sqrt(float(a)) if float(a) >= 0 else None,
    "abs": lambda a: abs(float(a)),
    "pow": lambda a, b: float(a) ** float(b),
    "min": lambda *a: min(float(x) for x in a),
    "max": lambda *a: max(float(x) for x in a),
    "sum": lambda *a: sum(float(x) for x in a),
    "avg": lambda *a: sum(float(x) for x in a) / len(a),
    "floor": lambda a: float(math.floor(float(a))),
    "ceil": lambda a: float(math.ceil(float(a))),
    "round": lambda a: float(round(float(a))),
    "threshold": lambda a, t: _threshold(float(a), float(t)),
}


# -- predicates ----------------------------------------------------------------------------------

_PREDICATES = {"True", "False", "SimplePredicate", "SimpleSetPredicate", "CompoundPredicate"}


def find_predicate(element: ET.Element) -> ET.Element:
    """The predicate child of a ``Node`` / ``Segment``.

    Raises:
        PMMLError: none, or one this reader does not support.
    """
    for item in children(element):
        tag = local(item)
        if tag in _PREDICATES:
            return item
        if tag.endswith("Predicate"):
            raise PMMLError(
                f"predicate <{tag}> is not supported; supported: {', '.join(sorted(_PREDICATES))}"
            )
    raise PMMLError(f"<{local(element)}> has no predicate")


def evaluate_predicate(element: ET.Element, env: Environment) -> bool | None:
    """True, False or None (unknown: a field it needs is missing)."""
    tag = local(element)
    if tag == "True":
        return True
    if tag == "False":
        return False
    if tag == "SimplePredicate":
        name = element.get("field", "")
        op = element.get("operator", "")
        value = env.get(name)
        if op == "isMissing":
            return value is None
        if op == "isNotMissing":
            return value is not None
        if value is None:
            return None
        other = convert(element.get("value"), env.data_type(name))
        return _compare(op, value, other)
    if tag == "SimpleSetPredicate":
        value = env.get(element.get("field", ""))
        if value is None:
            return None
        array = child(element, "Array")
        members = _array_values(array) if array is not None else []
        inside = str(value) in members or (_is_number(str(value)) and _in_numbers(value, members))
        return inside if element.get("booleanOperator", "isIn") == "isIn" else not inside
    if tag == "CompoundPredicate":
        return _compound(element, env)
    raise PMMLError(f"predicate <{tag}> is not supported")


def _in_numbers(value: Any, members: list[str]) -> bool:
    try:
        return float(value) in {float(m) for m in members}
    except ValueError:
        return False


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "equal":
        return bool(a == b)
    if op == "notEqual":
        return bool(a != b)
    if op == "lessThan":
        return bool(a < b)
    if op == "lessOrEqual":
        return bool(a <= b)
    if op == "greaterThan":
        return bool(a > b)
    if op == "greaterOrEqual":
        return bool(a >= b)
    raise PMMLError(f"SimplePredicate operator {op!r} is not supported")


def _compound(element: ET.Element, env: Environment) -> bool | None:
    op = element.get("booleanOperator", "")
    parts = [item for item in children(element) if local(item) in _PREDICATES]
    if op == "surrogate":
        for item in parts:
            result = evaluate_predicate(item, env)
            if result is not None:
                return result
        return None
    results = [evaluate_predicate(item, env) for item in parts]
    if op == "and":
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True
    if op == "or":
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if op == "xor":
        if any(r is None for r in results):
            return None
        return sum(bool(r) for r in results) % 2 == 1
    raise PMMLError(f"CompoundPredicate booleanOperator {op!r} is not supported")


def _array_values(array: ET.Element) -> list[str]:
    import shlex

    return shlex.split(array.text or "")
