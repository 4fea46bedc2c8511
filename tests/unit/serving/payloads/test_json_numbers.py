"""JSON numbers to typed arrays: converted when they fit, refused naming the value otherwise."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.serving.payloads.json_numbers import brief, numbers_array


@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [
        ([0, 2**64 - 1], "uint64", [0, 2**64 - 1]),  # NumPy alone parses these as floats
        ([-1, 2**64 - 1], "float64", [-1.0, float(2**64 - 1)]),
        ([2**63 - 1], "int64", [2**63 - 1]),
        ([255.0, 0], "uint8", [255, 0]),
        ([True, False], "float32", [1.0, 0.0]),
        ([1, 0], "bool", [True, False]),
        ([[1, 2.5]], "float16", [[1.0, 2.5]]),
        ([], "int8", []),
        (3, "int16", 3),
    ],
)
def test_values_that_fit_are_converted(values: Any, dtype: str, expected: Any) -> None:
    array = numbers_array(values, np.dtype(dtype), "x")
    assert array.dtype == np.dtype(dtype)
    assert array.tolist() == expected


@pytest.mark.parametrize(
    ("values", "dtype", "message"),
    [
        ([2**63], "int64", "9223372036854775808 is out of range for int64"),
        ([float(2**63)], "int64", "out of range for int64"),
        ([-1, 2**64 - 1], "uint64", "-1 is out of range for uint64"),
        ([256], "uint8", "256 is out of range for uint8"),
        ([1e300], "float32", "1e\\+300 is out of range for float32"),
        ([70000], "float16", "70000 is out of range for float16"),
        ([1.5], "int32", "int32 values must be whole numbers, got 1.5"),
        ([2], "bool", "booleans must be true or false"),
        ([0.5], "bool", "booleans must be true or false"),
        ([True, "x"], "float32", "'x' is not a number"),
        (["a", 1], "int8", "'a' is not a number \\(int8\\); send numbers, not strings"),
        ([None, 2**64 - 1], "float32", "null is not a number"),
        ([{"a": 1}], "float64", "not a number \\(float64\\); send numbers, not objects"),
        ([[1, 2], [3]], "float64", "same length"),
        ([float("nan")], "int64", "missing value \\(NaN\\)"),
    ],
)
def test_values_that_do_not_fit_are_named(values: Any, dtype: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        numbers_array(values, np.dtype(dtype), "inputs[0].data")
    assert caught.value.field == "inputs[0].data"


def test_a_label_names_the_values_in_messages_and_field_stays_the_field() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^column 'age': 'x'") as caught:
        numbers_array(["x"], np.dtype("int64"), "age", label="column 'age'")
    assert caught.value.field == "age"


def test_brief_cuts_long_values_and_unwraps_numpy_scalars() -> None:
    assert brief(np.float64(2.5)) == "2.5"
    assert brief("x" * 100) == "'" + "x" * 56 + "..."
