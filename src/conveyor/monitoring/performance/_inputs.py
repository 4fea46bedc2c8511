"""Validation of the arrays the monitoring statistics take: shape, length, finiteness, range.

Each check raises :class:`~conveyor.errors.InvalidArgumentError` naming the field and the fix,
so a bad window gives a clear error instead of a NumPy traceback or a silent NaN.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from conveyor.errors import InvalidArgumentError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _non_finite_message(field: str, values: FloatArray) -> str:
    bad = ~np.isfinite(values)
    first = [int(i) for i in np.argwhere(bad)[0]]
    position = f"{first[0]}, column {first[1]}" if len(first) == 2 else str(first[0])
    n_nan = int(np.isnan(values).sum())
    n_inf = int(bad.sum()) - n_nan
    return (
        f"{field}: {n_nan} NaN and {n_inf} infinite values (first at row {position}); "
        "drop or impute them before computing the statistic"
    )


def as_float_vector(values: ArrayLike, *, field: str, min_rows: int = 1) -> FloatArray:
    """Return ``values`` as a finite 1-D float array of at least ``min_rows`` rows."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"{field}: expected numbers, got values that cannot be read as floats ({exc})"
        raise InvalidArgumentError(msg, field=field) from exc
    if array.ndim != 1:
        msg = f"{field}: expected a 1-D array, got shape {array.shape}; pass one value per row"
        raise InvalidArgumentError(msg, field=field)
    check_rows(field, array.shape[0], min_rows)
    if not np.isfinite(array).all():
        raise InvalidArgumentError(_non_finite_message(field, array), field=field)
    return array


def as_float_matrix(values: ArrayLike, *, field: str, min_rows: int = 1) -> FloatArray:
    """Return ``values`` as a finite 2-D float array (rows x columns) of at least ``min_rows``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = (
            f"{field}: expected a numeric 2-D array (rows x columns), got values that cannot be "
            f"read as floats ({exc}); encode categorical columns as numbers first"
        )
        raise InvalidArgumentError(msg, field=field) from exc
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        msg = f"{field}: expected a 2-D array (rows x columns), got shape {array.shape}"
        raise InvalidArgumentError(msg, field=field)
    if array.shape[1] == 0:
        msg = f"{field}: has no columns; pass at least one feature column"
        raise InvalidArgumentError(msg, field=field)
    check_rows(field, array.shape[0], min_rows)
    if not np.isfinite(array).all():
        raise InvalidArgumentError(_non_finite_message(field, array), field=field)
    return array


def check_rows(field: str, rows: int, min_rows: int) -> None:
    """Raise when ``rows`` is below ``min_rows`` (an empty window or a too-small reference)."""
    if rows < min_rows:
        what = "is empty" if rows == 0 else f"has {rows} row{'s' if rows != 1 else ''}"
        need = "at least 1 row is" if min_rows == 1 else f"at least {min_rows} rows are"
        msg = f"{field}: {what}; {need} needed"
        raise InvalidArgumentError(msg, field=field)


def as_binary_labels(values: ArrayLike, *, field: str, min_rows: int = 1) -> IntArray:
    """Return ``values`` as a 0/1 integer array (booleans and 0.0/1.0 are accepted)."""
    array = as_float_vector(values, field=field, min_rows=min_rows)
    invalid = (array != 0) & (array != 1)
    if invalid.any():
        found = sorted({float(v) for v in array[invalid][:5]})
        msg = (
            f"{field}: binary labels must be 0 or 1, found {found}; "
            "map the positive class to 1 and the negative class to 0"
        )
        raise InvalidArgumentError(msg, field=field)
    return array.astype(np.int64)


def as_probabilities(values: ArrayLike, *, field: str, min_rows: int = 1) -> FloatArray:
    """Return ``values`` as a finite float array with every value in [0, 1]."""
    array = as_float_vector(values, field=field, min_rows=min_rows)
    outside = (array < 0) | (array > 1)
    if outside.any():
        low, high = float(array.min()), float(array.max())
        msg = (
            f"{field}: probabilities must lie in [0, 1], got values in [{low:g}, {high:g}]; "
            "pass predict_proba(...)[:, 1], or squash decision scores with a sigmoid"
        )
        raise InvalidArgumentError(msg, field=field)
    return array


def check_same_length(arrays: Mapping[str, NDArray[np.generic]]) -> None:
    """Raise when the arrays (named by their fields) do not all have the same number of rows."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name}={n}" for name, n in lengths.items())
        msg = f"length mismatch: {described}; pass one value per row for every field"
        raise InvalidArgumentError(msg, field=next(iter(lengths)))


def check_positive_int(value: int, *, field: str, minimum: int = 1) -> None:
    """Raise unless ``value`` is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{field}: expected an integer >= {minimum}, got {value!r}"
        raise InvalidArgumentError(msg, field=field)
