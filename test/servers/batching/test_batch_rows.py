"""Joining requests' rows and splitting answers, per protocol; what may not join."""

from __future__ import annotations

import numpy as np
import pytest

from zeroserve.servers.batching import batch_key, join, split
from zeroserve.servers.errors import InferenceError, InvalidInput
from zeroserve.servers.types import InferInput, InferOutput, InferRequest, InferResponse


def _v2(rid: str, rows: list[list[float]], name: str = "x", datatype: str = "FP32") -> InferRequest:
    flat = [v for row in rows for v in row]
    return InferRequest("m", [InferInput(name, [len(rows), len(rows[0])], datatype, flat)], request_id=rid)


def test_v1_rows_join_and_split_back() -> None:
    a, b = {"instances": [[1, 2]]}, {"instances": [[3, 4], [5, 6]]}
    ka, kb = batch_key(a), batch_key(b)
    assert ka is not None and kb is not None and ka[0] == kb[0]
    assert (ka[1], kb[1]) == (1, 2)
    assert join([a, b]) == {"instances": [[1, 2], [3, 4], [5, 6]]}
    parts = split({"predictions": [10, 20, 30], "model": "m"}, [a, b], [1, 2])
    assert parts == [{"predictions": [10], "model": "m"}, {"predictions": [20, 30], "model": "m"}]
    assert split([1, 2, 3], [a, b], [1, 2]) == [[1], [2, 3]]


@pytest.mark.parametrize(
    "payload",
    [
        {"instances": [[1, 2], [3]]},  # ragged
        {"instances": [[[1], [2]], [[1, 2], [3]]]},  # ragged deeper down
        {"instances": [[1, "a"]]},  # mixed leaves
        {"instances": []},
        {"instances": [[1]], "parameters": {"k": 1}},  # more than rows: runs alone
        {"signature_name": "x"},
    ],
)
def test_v1_payloads_that_run_alone(payload: dict) -> None:
    assert batch_key(payload) is None


def test_many_rows_are_keyed_like_few() -> None:
    few, many = batch_key({"instances": [[1, 2.5]] * 3}), batch_key({"instances": [[1, 2.5]] * 20})
    assert few is not None and many is not None and few[0] == many[0] and many[1] == 20
    assert batch_key({"instances": [[1, 2]] * 19 + [[3]]}) is None  # ragged
    assert batch_key({"instances": [[1, 2]] * 32}, max_rows=32) is None  # fills a batch alone
    big = InferRequest("m", [InferInput("x", [32, 1], "FP32", [0.0] * 32)])
    assert batch_key(big, max_rows=32) is None


def test_v1_rows_of_other_widths_or_kinds_never_join() -> None:
    keys = {batch_key({"instances": rows})[0] for rows in ([[1, 2]], [[1, 2, 3]], [["a", "b"]], [[1.5, 2]])}  # type: ignore[index]
    assert len(keys) == 3  # ints and floats are both numbers


def test_v2_inputs_join_along_the_first_dimension_and_answers_keep_their_ids() -> None:
    a, b = _v2("a", [[1, 2]]), _v2("b", [[3, 4], [5, 6]])
    assert batch_key(a)[0] == batch_key(b)[0]  # type: ignore[index]
    merged = join([a, b])
    assert merged.inputs[0].shape == [3, 2]
    np.testing.assert_array_equal(merged.inputs[0].as_numpy(), [[1, 2], [3, 4], [5, 6]])
    out = InferOutput("y", [3], "FP32", np.array([1, 2, 3], dtype=np.float32))
    parts = split(InferResponse(merged.id, "m", [out]), [a, b], [1, 2])
    assert [p.id for p in parts] == ["a", "b"]
    assert [p.outputs[0].shape for p in parts] == [[1], [2]]
    np.testing.assert_array_equal(parts[1].outputs[0].as_numpy(), [2, 3])


def test_v2_keys_separate_names_datatypes_and_trailing_shapes() -> None:
    base = batch_key(_v2("a", [[1, 2]]))[0]  # type: ignore[index]
    assert batch_key(_v2("b", [[1, 2, 3]]))[0] != base  # type: ignore[index]
    assert batch_key(_v2("c", [[1, 2]], name="z"))[0] != base  # type: ignore[index]
    assert batch_key(_v2("d", [[1, 2]], datatype="FP64"))[0] != base  # type: ignore[index]


def test_a_malformed_v2_tensor_is_the_callers_own_error() -> None:
    bad = InferRequest("m", [InferInput("x", [1, 2], "FP32", [1, 2, 3])])
    with pytest.raises(InvalidInput, match="needs 2 elements"):
        batch_key(bad)


def test_an_answer_with_other_rows_fails_clearly() -> None:
    a, b = {"instances": [[1]]}, {"instances": [[2]]}
    with pytest.raises(InferenceError, match="batch of 2 rows has 3 rows"):
        split({"predictions": [1, 2, 3]}, [a, b], [1, 1])
    with pytest.raises(InferenceError, match="cannot be split"):
        split("text", [a, b], [1, 1])
