"""GJSON paths: the forms KServe's docs and tests use, and GJSON's own reference examples."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.apis.serving.v1alpha1.gjson import GJSONSyntaxError, compile_path

DOC: dict[str, Any] = {
    "name": {"first": "Tom", "last": "Anderson"},
    "age": 37,
    "children": ["Sara", "Alex", "Jack"],
    "fav.movie": "Deer Hunter",
    "friends": [
        {"first": "Dale", "last": "Murphy", "age": 44, "nets": ["ig", "fb", "tw"]},
        {"first": "Roger", "last": "Craig", "age": 68, "nets": ["fb", "tw"]},
        {"first": "Jane", "last": "Murphy", "age": 47, "nets": ["ig", "tw"]},
    ],
    "instances": [{"x": 0.5, "modelId": "1"}, {"x": 2, "modelId": "2"}],
    "predictions": [{"class": "news", "score": 0.95}],
    "flag": True,
    "nothing": None,
    "tags": [{"label": "a,b"}, {"label": "x==(y]"}, {"label": 'say "hi"'}],
}

CASES: list[tuple[str, bool, Any]] = [
    ("name.last", True, "Anderson"),
    ("age", True, 37),
    ("children", True, ["Sara", "Alex", "Jack"]),
    ("children.#", True, 3),
    ("children.1", True, "Alex"),
    ("children.3", False, None),
    ("child*.2", True, "Jack"),
    ("c?ildren.0", True, "Sara"),
    ("fav\\.movie", True, "Deer Hunter"),
    ("friends.#.first", True, ["Dale", "Roger", "Jane"]),
    ("friends.1.last", True, "Craig"),
    ('friends.#(last=="Murphy").first', True, "Dale"),
    ('friends.#(last=="Murphy")#.first', True, ["Dale", "Jane"]),
    ("friends.#(age>45)#.last", True, ["Craig", "Murphy"]),
    ('friends.#(first%"D*").last', True, "Murphy"),
    ('friends.#(first!%"D*").last', True, "Craig"),
    ('friends.#(nets.#(=="fb"))#.first', True, ["Dale", "Roger"]),
    ('friends.#(last=="Murphy")#.first|0', True, "Dale"),
    ("friends.#(age>100)", False, None),
    ("friends.#(age>100)#", True, []),
    ("friends.#(nets)#.first", True, ["Dale", "Roger", "Jane"]),
    ("missing", False, None),
    ("nothing", True, None),
    ("name.first.deeper", False, None),
    ("instances.#(x>1)", True, {"x": 2, "modelId": "2"}),
    ("instances.#(x>5)", False, None),
    ('instances.#(modelId=="2").x', True, 2),
    ('instances.#(x=="2")', True, {"x": 2, "modelId": "2"}),
    ("instances.#(modelId==2).x", True, 2),
    ('[@this].#(predictions.0.class=="news")', True, DOC),
    ('[@this].#(predictions.0.class=="sports")', False, None),
    ("[@this].#(predictions.0.score>0.9)", True, DOC),
    ("[@this].#(predictions.0.score>0.99)", False, None),
    ("[@this].#(flag==true)", True, DOC),
    ("[@this].#(flag==false)", False, None),
    ("[@this].#(flag!=false)", True, DOC),
    ("[@this].#(nothing==null)", False, None),
    ("@this.age", True, 37),
    ("{age,name.first}", True, {"age": 37, "first": "Tom"}),
    ("[age,missing,children.0]", True, [37, "Sara"]),
    ("children|@reverse", True, ["Jack", "Alex", "Sara"]),
    ("name|@keys", True, ["first", "last"]),
    # brackets, commas, operators and escaped quotes inside a quoted value are not structure
    ('tags.#(label=="a,b")', True, {"label": "a,b"}),
    ('tags.#(label=="x==(y]").label', True, "x==(y]"),
    ('tags.#(label=="say \\"hi\\"").label', True, 'say "hi"'),
    ('[tags.#(label=="a,b").label,age]', True, ["a,b", 37]),
    ('{tags.#(label=="x==(y]").label,age}', True, {"label": "x==(y]", "age": 37}),
]


@pytest.mark.parametrize(("path", "exists", "value"), CASES, ids=[c[0] for c in CASES])
def test_get(path: str, exists: bool, value: Any) -> None:
    result = compile_path(path).get(DOC)
    assert result.exists is exists
    if exists:
        assert result.value == value


@pytest.mark.parametrize(
    ("condition", "document", "exists"),
    [
        ('[@this].#(predictions.0.class=="news")', {"predictions": [{"class": "news"}]}, True),
        ('[@this].#(predictions.0.class=="news")', {"predictions": [{"class": "sport"}]}, False),
        ("[@this].#(instances.0.data>0.9)", {"instances": [{"data": 0.95}]}, True),
        ("[@this].#(instances.0.data>0.9)", {"instances": [{"data": 0.5}]}, False),
        ('predictions.#(label=="dog")', {"predictions": [{"label": "cat"}, {"label": "dog"}]}, True),
        ('instances.#(modelId=="1")', {"instances": [{"modelId": "2"}]}, False),
    ],
)
def test_kserve_documented_conditions(condition: str, document: Any, exists: bool) -> None:
    assert compile_path(condition).exists(document) is exists


def test_a_condition_is_evaluated_against_scalars_and_arrays_without_errors() -> None:
    path = compile_path("instances.#(x>1)")
    assert not path.exists(3)
    assert not path.exists("text")
    assert not path.exists([1, 2])
    assert path.exists({"instances": [{"x": 3}]})


BAD = ["", "a.", "a..b", ".a", "#(a==1", '#(a=="x)', "@nope", "[a,", "[a,]", "a.#(x>1)y", "#()", "#(a==)"]


@pytest.mark.parametrize("path", BAD)
def test_malformed_paths_are_rejected_with_a_position(path: str) -> None:
    with pytest.raises(GJSONSyntaxError) as info:
        compile_path(path)
    assert info.value.position >= 0
