"""Join the inputs of several requests into one model call and split its predictions back.

A ``ModelInput`` is what one request contributes to a model call: a 2-D ``numpy.ndarray``, a
``pandas.DataFrame`` or a ``dict`` of named arrays, each with its rows on the first axis.
Inputs with equal ``batch_key`` can be concatenated; the model's predictions are then cut back
into one slice per request, in order.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from conveyor.errors import ConveyorError, InvalidArgumentError

ModelInput: TypeAlias = "np.ndarray[Any, Any] | pd.DataFrame | dict[str, np.ndarray[Any, Any]]"
Predictions: TypeAlias = (
    "np.ndarray[Any, Any] | pd.Series[Any] | pd.DataFrame | dict[str, Any] | list[Any]"
)


class RowCountMismatchError(ConveyorError):
    """A model returned a different number of predictions than the rows it was given."""


class _Alone:
    """The batch key of an input that cannot be concatenated: equal to nothing but itself."""

    __slots__ = ()


def row_count(model_input: object) -> int:
    """Return the number of rows of a model input (its first axis).

    Raises:
        InvalidArgumentError: The input has no first axis, or its named arrays disagree.
    """
    if isinstance(model_input, pd.DataFrame):
        return len(model_input)
    if isinstance(model_input, np.ndarray):
        if model_input.ndim == 0:
            msg = "model input is a scalar; send a batch of rows (shape [n_rows, ...])"
            raise InvalidArgumentError(msg, field="inputs")
        return int(model_input.shape[0])
    if isinstance(model_input, dict):
        return _dict_rows(model_input)
    msg = f"model input is a {type(model_input).__name__}; expected an array, DataFrame or dict"
    raise InvalidArgumentError(msg, field="inputs")


def _dict_rows(tensors: dict[str, np.ndarray[Any, Any]]) -> int:
    if not tensors:
        msg = "model input has no tensors; send at least one named input"
        raise InvalidArgumentError(msg, field="inputs")
    first_name, rows = "", -1
    for name, value in tensors.items():
        if np.ndim(value) == 0:
            msg = f"input {name!r} is a scalar; send a batch of rows (shape [n_rows, ...])"
            raise InvalidArgumentError(msg, field=name)
        count = int(np.shape(value)[0])
        if rows < 0:
            first_name, rows = name, count
        elif count != rows:
            msg = (
                f"input {name!r} has {count} rows but {first_name!r} has {rows}; "
                "every named input needs the same first dimension"
            )
            raise InvalidArgumentError(msg, field=name)
    return rows


def batch_key(model_input: object) -> Hashable:
    """Return a key such that inputs with equal keys can be concatenated row-wise.

    The key holds the input's kind, column or tensor names, dtypes and trailing shape. An
    input of any other type gets a key equal to no other, so it runs alone.
    """
    if isinstance(model_input, np.ndarray):
        return (np.ndarray, model_input.dtype, model_input.shape[1:])
    if isinstance(model_input, pd.DataFrame):
        return (pd.DataFrame, tuple(model_input.columns.tolist()), tuple(model_input.dtypes))
    if isinstance(model_input, dict):
        return (
            dict,
            tuple(
                sorted((name, value.dtype, value.shape[1:]) for name, value in model_input.items())
            ),
        )
    return _Alone()


def concat_rows(inputs: Sequence[ModelInput]) -> ModelInput:
    """Concatenate inputs that share one ``batch_key`` along their rows, in order."""
    first = inputs[0]
    if len(inputs) == 1:
        return first
    if isinstance(first, np.ndarray):
        return np.concatenate(inputs, axis=0)  # type: ignore[arg-type]
    if isinstance(first, pd.DataFrame):
        # Each request's index is its own 0..n-1; the batch gets a fresh one.
        return pd.concat(inputs, ignore_index=True)  # type: ignore[arg-type]
    tensors: Sequence[dict[str, np.ndarray[Any, Any]]] = inputs  # type: ignore[assignment]
    return {name: np.concatenate([t[name] for t in tensors], axis=0) for name in first}


def split_rows(predictions: Predictions, rows: Sequence[int]) -> list[Predictions]:
    """Cut a batch's predictions into one slice per request, ``rows[i]`` rows each.

    Series and DataFrame slices get a fresh 0..n-1 index, as if each request had run alone.

    Raises:
        RowCountMismatchError: The predictions do not have ``sum(rows)`` rows.
    """
    total = sum(rows)
    bounds = list(itertools.pairwise(itertools.accumulate(rows, initial=0)))
    if isinstance(predictions, dict):
        columns = {
            name: _split_one(value, bounds, total, name) for name, value in predictions.items()
        }
        return [{name: parts[i] for name, parts in columns.items()} for i in range(len(rows))]
    return _split_one(predictions, bounds, total, None)


def _split_one(
    value: Any, bounds: list[tuple[int, int]], total: int, name: str | None
) -> list[Any]:
    got = _length(value)
    if got != total:
        what = f"output {name!r} has" if name is not None else "model returned"
        rows_text = f"{got} rows" if got is not None else f"a {type(value).__name__}"
        msg = (
            f"{what} {rows_text} for a batch of {total} rows from {len(bounds)} requests; "
            "a batched model must return one prediction per input row "
            "(serve it with max_batch_size=1 to turn batching off)"
        )
        raise RowCountMismatchError(msg, field=name)
    if isinstance(value, pd.Series | pd.DataFrame):
        return [value.iloc[start:stop].reset_index(drop=True) for start, stop in bounds]
    return [value[start:stop] for start, stop in bounds]


def _length(value: Any) -> int | None:
    if isinstance(value, np.ndarray):
        return int(value.shape[0]) if value.ndim else None
    if isinstance(value, pd.Series | pd.DataFrame | list | tuple):
        return len(value)
    return None
