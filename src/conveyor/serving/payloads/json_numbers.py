"""Turn numbers parsed from JSON into a NumPy array of a given dtype, without losing any.

JSON has one number type, so a request cannot say "float32" or "int8": the target dtype comes
from the OIP ``datatype`` or the model's signature. A value is converted when the target holds
it (floats round to the nearest float32/float16, as MLflow does when it parses a request), and
refused otherwise, naming the field: strings, nulls, fractions for integers, out-of-range values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError

NUMERIC_KINDS = "biuf"

Array = np.ndarray[Any, Any]


def brief(value: Any, limit: int = 60) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters, for error messages."""
    if isinstance(value, np.generic):  # numpy 2 writes np.float64(2.5)
        value = value.item()
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_array(
    values: Any, field: str, dtype: np.dtype[Any] | None = None, label: str | None = None
) -> Array:
    """Return ``np.asarray(values, dtype)``, or raise naming ``field`` if the nesting is ragged."""
    try:
        return np.asarray(values, dtype=dtype)
    except (ValueError, TypeError, OverflowError):
        msg = f"{label or field}: nested lists must all have the same length (a rectangular array)"
        raise InvalidArgumentError(msg, field=field) from None


def numbers_array(values: Any, dtype: np.dtype[Any], field: str, label: str | None = None) -> Array:
    """Return JSON ``values`` (a number or nested lists of numbers) as an array of ``dtype``.

    ``label`` names the values in messages (default: ``field``).

    Raises:
        InvalidArgumentError: the nesting is ragged, or a value is not a number ``dtype`` holds.
    """
    array = parse_array(values, field, label=label)
    kind = array.dtype.kind
    if kind in "US":  # NumPy made every value text; quote the one that was
        array = np.asarray(values, dtype=object)
    elif array.size and (
        (kind == "O" and dtype.kind in "iuf") or (kind == "f" and dtype.kind in "iu")
    ):
        exact = _python_numbers(values, dtype, field, label or field)
        if exact is not None:
            return exact.reshape(array.shape)
    return cast_numbers(array, dtype, field, label)


def _python_numbers(values: Any, dtype: np.dtype[Any], field: str, label: str) -> Array | None:
    """Numbers NumPy could not hold in one dtype (0 and 2**64 - 1), converted exactly."""
    flat = np.asarray(values, dtype=object).ravel().tolist()
    is_int = dtype.kind in "iu"
    if not all(type(v) is int or (not is_int and type(v) is float) for v in flat):
        return None  # nulls, text, fractions for integers: cast_numbers says which
    if not is_int:
        return _checked_float(np.array(flat, dtype=np.float64), dtype, field, label)
    try:
        return np.array(flat, dtype=dtype)
    except OverflowError:
        info = np.iinfo(dtype)
        value = next(v for v in flat if not info.min <= v <= info.max)
        msg = f"{label}: {brief(value)} is out of range for {dtype.name} [{info.min}, {info.max}]"
        raise InvalidArgumentError(msg, field=field) from None


def cast_numbers(array: Array, dtype: np.dtype[Any], field: str, label: str | None = None) -> Array:
    """Cast an array parsed from JSON to ``dtype``, checking that every value fits.

    Examples:
        >>> cast_numbers(np.asarray([1, 2]), np.dtype("float32"), "x").dtype
        dtype('float32')
        >>> cast_numbers(np.asarray([1.5]), np.dtype("int64"), "x")
        Traceback (most recent call last):
        conveyor.errors.InvalidArgumentError: x: int64 values must be whole numbers, got 1.5
    """
    if array.dtype == dtype:
        return array
    label = label or field
    kind, target = array.dtype.kind, dtype.kind
    if kind not in NUMERIC_KINDS or target not in NUMERIC_KINDS:
        raise non_number_error(array, dtype, field, label)
    if target == "f":
        return _checked_float(array, dtype, field, label)
    if kind == "b":
        return array.astype(dtype)
    if target == "b":
        if not np.isin(array, (0, 1)).all():
            value = brief(array[~np.isin(array, (0, 1))].flat[0])
            msg = f"{label}: booleans must be true or false (or 0/1), got {value}"
            raise InvalidArgumentError(msg, field=field)
        return array.astype(dtype)
    return _checked_int(array, dtype, field, label)


def _checked_float(array: Array, dtype: np.dtype[Any], field: str, label: str) -> Array:
    with np.errstate(over="ignore"):
        out = array.astype(dtype)
    if dtype.itemsize < 8 and out.size:
        overflow = np.isinf(out) & ~np.isinf(array.astype(np.float64))
        if overflow.any():
            msg = f"{label}: {brief(array[overflow].flat[0])} is out of range for {dtype.name}"
            raise InvalidArgumentError(msg, field=field)
    return out


def _checked_int(array: Array, dtype: np.dtype[Any], field: str, label: str) -> Array:
    if array.dtype.kind == "f":
        if np.isnan(array).any():  # CSV empty cells, pandas missing values
            msg = f"{label}: a missing value (NaN) is not a number ({dtype.name}); send one"
            raise InvalidArgumentError(msg, field=field)
        fraction = array != np.trunc(array)  # infinities fail the range check below
        if fraction.any():
            value = brief(array[fraction].flat[0])
            msg = f"{label}: {dtype.name} values must be whole numbers, got {value}"
            raise InvalidArgumentError(msg, field=field)
    if array.size and not np.can_cast(array.dtype, dtype):
        info = np.iinfo(dtype)
        low, high = array.min(), array.max()
        if low < info.min or high >= info.max + 1:  # float(2**63 - 1) rounds up to 2**63
            value = brief(low if low < info.min else high)
            msg = f"{label}: {value} is out of range for {dtype.name} [{info.min}, {info.max}]"
            raise InvalidArgumentError(msg, field=field)
    return array.astype(dtype)


def non_number_error(
    array: Array, dtype: np.dtype[Any], field: str, label: str | None = None
) -> InvalidArgumentError:
    """Build the error for values that are not numbers of ``dtype``, quoting the first one."""
    label = label or field
    value = _first_non_number(array)
    if value is None:
        msg = f"{label}: null is not a number ({dtype.name}); send a number"
    elif isinstance(value, int | float):
        msg = f"{label}: {brief(value)} is out of range for {dtype.name}"
    else:
        what = _json_type(value)
        msg = f"{label}: {brief(value)} is not a number ({dtype.name}); send numbers, not {what}"
    return InvalidArgumentError(msg, field=field)


def _first_non_number(array: Array) -> Any:
    values = array.ravel().tolist()
    return next((v for v in values if not isinstance(v, int | float)), values[0])


def _json_type(value: Any) -> str:
    if isinstance(value, str):
        return "strings"
    return "objects" if isinstance(value, dict) else type(value).__name__
