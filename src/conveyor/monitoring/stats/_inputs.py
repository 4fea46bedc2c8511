"""Input checks shared by the statistics: every public function validates before it computes."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from conveyor.errors import InvalidArgumentError

FloatArray = npt.NDArray[np.float64]


def as_sample(values: Any, field: str) -> FloatArray:
    """Return ``values`` as a non-empty 1-D float64 array of finite numbers, or raise."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"{field} must be numbers; convert the column to a numeric dtype ({exc})"
        raise InvalidArgumentError(msg, field=field) from exc
    if array.ndim != 1:
        msg = f"{field} must be 1-D, got shape {array.shape}; pass one column at a time"
        raise InvalidArgumentError(msg, field=field)
    if array.size == 0:
        msg = f"{field} is empty; a statistic needs at least one value on each side"
        raise InvalidArgumentError(msg, field=field)
    if not np.isfinite(array).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        msg = f"{field} has {bad} NaN or infinite values; drop or impute them first"
        raise InvalidArgumentError(msg, field=field)
    return array


def as_counts(counts: Any, field: str) -> FloatArray:
    """Return ``counts`` as a 1-D float64 array of finite, non-negative numbers, or raise."""
    try:
        array = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"{field} must be numeric counts ({exc})"
        raise InvalidArgumentError(msg, field=field) from exc
    if array.ndim != 1 or array.size == 0:
        msg = f"{field} must be a non-empty 1-D array of counts, got shape {array.shape}"
        raise InvalidArgumentError(msg, field=field)
    if not np.isfinite(array).all() or (array < 0).any():
        msg = f"{field} must hold finite, non-negative counts"
        raise InvalidArgumentError(msg, field=field)
    return array


def as_count_pair(reference: Any, current: Any) -> tuple[FloatArray, FloatArray]:
    """Validate two count vectors over the same bins; both must have a positive total."""
    ref = as_counts(reference, "reference_counts")
    cur = as_counts(current, "current_counts")
    if ref.shape != cur.shape:
        msg = (
            f"reference_counts has {ref.size} bins but current_counts has {cur.size}; "
            "count both on the same bin edges or categories"
        )
        raise InvalidArgumentError(msg, field="current_counts")
    for name, array in (("reference_counts", ref), ("current_counts", cur)):
        if array.sum() <= 0:
            msg = f"{name} sum to zero; a distribution needs at least one observation"
            raise InvalidArgumentError(msg, field=name)
    return ref, cur


def proportions(counts: FloatArray) -> FloatArray:
    """Return ``counts / counts.sum()`` (the caller has checked the sum is positive)."""
    result: FloatArray = counts / counts.sum()
    return result
