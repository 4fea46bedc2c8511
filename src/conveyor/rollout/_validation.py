"""Argument checks shared by the rollout statistics; each raises ``InvalidArgumentError``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from conveyor.errors import InvalidArgumentError

FloatArray = npt.NDArray[np.float64]


def check_open_unit(value: float, field: str) -> float:
    """Return ``value`` if it is a number strictly between 0 and 1, else raise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        msg = f"{field} must be a number strictly between 0 and 1, got {value!r}"
        raise InvalidArgumentError(msg, field=field)
    return float(value)


def check_count(value: int, field: str) -> int:
    """Return ``value`` if it is an integer >= 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        msg = f"{field} must be an integer >= 0, got {value!r}"
        raise InvalidArgumentError(msg, field=field)
    return int(value)


def check_non_negative(value: float, field: str) -> float:
    """Return ``value`` if it is a finite number >= 0, else raise."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and value >= 0):
        msg = f"{field} must be a finite number >= 0, got {value!r}"
        raise InvalidArgumentError(msg, field=field)
    return float(value)


def as_values(values: Any, field: str) -> FloatArray:
    """Return ``values`` as a 1-D float64 array of finite numbers (possibly empty), or raise."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"{field} must be numbers ({exc})"
        raise InvalidArgumentError(msg, field=field) from exc
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        msg = f"{field} must be 1-D, got shape {array.shape}; pass one outcome per request"
        raise InvalidArgumentError(msg, field=field)
    if not np.isfinite(array).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        msg = f"{field} has {bad} NaN or infinite values; drop them before updating"
        raise InvalidArgumentError(msg, field=field)
    return array


def check_type(value: object, expected: type, field: str) -> None:
    """Raise unless ``value`` is an ``expected`` instance (guards untyped callers)."""
    if not isinstance(value, expected):
        msg = f"{field} must be a {expected.__name__}, got {type(value).__name__}"
        raise InvalidArgumentError(msg, field=field)
