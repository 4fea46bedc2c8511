"""How raw column values are read: missing markers, category keys, type families, bin slots.

The reference profile and the window sketches share these rules, so a value is classified the
same way when the reference is built and when live traffic is counted.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

ValueFamily = Literal["number", "string", "bool", "other"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def is_missing(value: object) -> bool:
    """Return True for None, NaN, ``pd.NA`` and ``pd.NaT`` (the values counted as missing).

    Examples:
        >>> [is_missing(v) for v in (None, float("nan"), "", 0)]
        [True, True, False, False]
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def value_family(value: object) -> ValueFamily:
    """Return the type family a value belongs to; a change of family is a type change.

    Examples:
        >>> [value_family(v) for v in ("a", 1, 2.5, True)]
        ['string', 'number', 'number', 'bool']
    """
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def category_key(value: Any) -> str:
    """Return the string a category is counted under.

    Integral floats are written as integers, so ``1`` and ``1.0`` (an integer column that
    pandas turned into floats because of a missing value) count as the same category.

    Examples:
        >>> [category_key(v) for v in ("red", 3, 3.0, 2.5, True)]
        ['red', '3', '3', '2.5', 'True']
    """
    if (
        isinstance(value, float | np.floating)
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        return str(int(value))
    return str(value)


def bin_slots(edges: FloatArray, values: FloatArray) -> IntArray:
    """Return each value's slot: 0 below ``edges[0]``, ``len(edges)`` above ``edges[-1]``.

    Slot ``i`` in between holds ``edges[i-1] <= x < edges[i]``, the last bin being closed on
    the right, so the reference's own maximum falls inside it. ``-inf`` and ``+inf`` land in the
    outer slots. Values must not be NaN.

    Examples:
        >>> bin_slots(np.array([0.0, 1.0, 2.0]), np.array([-1.0, 0.0, 1.5, 2.0, 3.0])).tolist()
        [0, 1, 2, 2, 3]
    """
    slots = np.searchsorted(edges[:-1], values, side="right")
    slots += values > edges[-1]
    return slots.astype(np.int64, copy=False)


def fold_open_ended(slot_counts: IntArray) -> IntArray:
    """Fold the underflow and overflow slots into the outer bins (open-ended outer bins).

    Examples:
        >>> fold_open_ended(np.array([1, 5, 6, 2])).tolist()
        [6, 8]
    """
    counts = slot_counts[1:-1].copy()
    counts[0] += slot_counts[0]
    counts[-1] += slot_counts[-1]
    return counts
