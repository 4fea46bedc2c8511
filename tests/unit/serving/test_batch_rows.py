from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.errors import InvalidArgumentError
from conveyor.serving.batch_rows import (
    RowCountMismatchError,
    batch_key,
    concat_rows,
    row_count,
    split_rows,
)


def _frame(rows: int, start: int = 0) -> pd.DataFrame:
    values = np.arange(start, start + rows)
    return pd.DataFrame({"a": values.astype(np.float64), "b": values.astype(np.int64)})


def test_row_count_reads_the_first_axis_of_every_kind() -> None:
    assert row_count(np.zeros((3, 4))) == 3
    assert row_count(_frame(5)) == 5
    assert row_count({"x": np.zeros((2, 3)), "y": np.zeros(2)}) == 2


@pytest.mark.parametrize(
    ("model_input", "match"),
    [
        (np.array(1.0), "model input is a scalar"),
        ({"x": np.zeros(2), "y": np.zeros(3)}, "'y' has 3 rows but 'x' has 2"),
        ({"x": np.float64(1.0)}, "input 'x' is a scalar"),
        ({}, "no tensors"),
        ("text", "is a str"),
    ],
)
def test_row_count_rejects_inputs_without_rows(model_input: Any, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        row_count(model_input)


def test_batch_key_matches_inputs_that_concatenate() -> None:
    assert batch_key(np.zeros((1, 3))) == batch_key(np.ones((7, 3)))
    assert batch_key(_frame(1)) == batch_key(_frame(4, start=9))
    assert batch_key({"x": np.zeros((1, 2)), "y": np.zeros(1)}) == batch_key(
        {"y": np.ones(5), "x": np.ones((5, 2))}
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (np.zeros((1, 3)), np.zeros((1, 4))),
        (np.zeros((1, 3)), np.zeros((1, 3), dtype=np.float32)),
        (np.zeros((1, 3)), pd.DataFrame(np.zeros((1, 3)))),
        (_frame(1), _frame(1)[["b", "a"]]),
        (_frame(1), _frame(1).astype({"b": np.float64})),
        ({"x": np.zeros((1, 2))}, {"x": np.zeros((1, 3))}),
        ({"x": np.zeros(1)}, {"z": np.zeros(1)}),
    ],
)
def test_batch_key_separates_inputs_that_do_not_concatenate(left: Any, right: Any) -> None:
    assert batch_key(left) != batch_key(right)


def test_batch_key_of_an_unknown_input_equals_no_other() -> None:
    records = [{"a": 1}]
    assert batch_key(records) != batch_key(records)


def test_concat_rows_joins_arrays_frames_and_tensors_in_order() -> None:
    joined = concat_rows([np.array([[1, 2]]), np.array([[3, 4], [5, 6]])])
    np.testing.assert_array_equal(joined, [[1, 2], [3, 4], [5, 6]])

    frame = concat_rows([_frame(2), _frame(3, start=10)])
    assert isinstance(frame, pd.DataFrame)
    assert frame["b"].tolist() == [0, 1, 10, 11, 12]
    assert frame.index.tolist() == [0, 1, 2, 3, 4]

    tensors = concat_rows([{"x": np.array([1])}, {"x": np.array([2, 3])}])
    assert isinstance(tensors, dict)
    np.testing.assert_array_equal(tensors["x"], [1, 2, 3])


def test_concat_rows_of_one_input_returns_it_unchanged() -> None:
    only = np.zeros((2, 2))
    assert concat_rows([only]) is only


def test_split_rows_cuts_arrays_and_lists() -> None:
    parts = split_rows(np.arange(6), [1, 3, 2])
    assert [np.asarray(p).tolist() for p in parts] == [[0], [1, 2, 3], [4, 5]]
    assert split_rows(["a", "b", "c"], [2, 1]) == [["a", "b"], ["c"]]
    empty = split_rows(np.arange(3), [0, 3, 0])[0]
    assert isinstance(empty, np.ndarray)
    assert empty.shape == (0,)


def test_split_rows_gives_each_pandas_slice_a_fresh_index() -> None:
    series = pd.Series([10, 11, 12], index=[7, 8, 9])
    first, second = split_rows(series, [1, 2])
    assert isinstance(second, pd.Series)
    assert second.index.tolist() == [0, 1]
    assert second.tolist() == [11, 12]
    assert isinstance(first, pd.Series)
    assert first.tolist() == [10]

    frame_parts = split_rows(_frame(3), [2, 1])
    assert isinstance(frame_parts[1], pd.DataFrame)
    assert frame_parts[1].to_dict("list") == {"a": [2.0], "b": [2]}


def test_split_rows_cuts_every_output_of_a_dict() -> None:
    parts = split_rows({"label": np.array([0, 1, 1]), "score": [0.1, 0.9, 0.8]}, [2, 1])
    first, second = parts
    assert isinstance(first, dict)
    assert isinstance(second, dict)
    assert second["score"] == [0.8]
    np.testing.assert_array_equal(first["label"], [0, 1])


@pytest.mark.parametrize(
    ("predictions", "match"),
    [
        (np.arange(4), "model returned 4 rows for a batch of 3 rows from 2 requests"),
        (np.float64(0.5), "model returned a float64 for a batch of 3 rows"),
        (0.5, "model returned a float for a batch of 3 rows"),
        ({"label": np.arange(3), "score": np.arange(2)}, "output 'score' has 2 rows"),
    ],
)
def test_split_rows_refuses_predictions_of_another_length(predictions: Any, match: str) -> None:
    with pytest.raises(RowCountMismatchError, match=match) as caught:
        split_rows(predictions, [1, 2])
    assert "max_batch_size=1" in caught.value.message
    assert caught.value.status_code == 500


@given(rows=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=8))
def test_split_rows_inverts_concat_rows(rows: list[int]) -> None:
    starts = np.cumsum([0, *rows[:-1]])
    parts = [
        np.arange(start, start + n, dtype=np.float64).reshape(n, 1)
        for start, n in zip(starts, rows, strict=True)
    ]
    back = split_rows(concat_rows(parts), rows)
    assert len(back) == len(parts)
    for got, sent in zip(back, parts, strict=True):
        np.testing.assert_array_equal(got, sent)
