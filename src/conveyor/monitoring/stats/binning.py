"""Bins shared by the count-based statistics: reference quantile edges, Sturges edges, counts.

Edges are *interior* cut points ``e_1 < ... < e_k``: bin ``i`` holds ``e_i <= x < e_{i+1}``
with open outer bins, so a current value outside the reference range still lands in a bin.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.stats._inputs import FloatArray, as_sample

IntArray = npt.NDArray[np.int64]


def quantile_edges(reference: Any, bins: int = 10) -> FloatArray:
    """Return the interior edges of ``bins`` equal-frequency bins of ``reference``.

    The cut points are the reference quantiles ``j / bins`` for ``j = 1 .. bins - 1`` (linear
    interpolation, NumPy's default), de-duplicated: a reference with many ties gets fewer bins
    rather than empty ones.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        msg = f"bins must be an integer >= 2, got {bins!r}"
        raise InvalidArgumentError(msg, field="bins")
    values = as_sample(reference, "reference")
    cuts = np.quantile(values, np.arange(1, bins) / bins)
    return np.unique(cuts)


def edges_counts(values: FloatArray, edges: FloatArray) -> IntArray:
    """Count ``values`` into the ``len(edges) + 1`` bins cut by the interior ``edges``."""
    index = np.searchsorted(edges, values, side="right")
    return np.bincount(index, minlength=edges.size + 1).astype(np.int64)


def sorted_edges_counts(sorted_values: FloatArray, edges: FloatArray) -> IntArray:
    """``edges_counts`` for already sorted values: O(bins log n) instead of O(n)."""
    bounds = np.searchsorted(sorted_values, edges, side="left")
    return np.diff(np.concatenate(([0], bounds, [sorted_values.size]))).astype(np.int64)


def sturges_edges(low: float, high: float, size: int) -> FloatArray:
    """Return ``np.histogram_bin_edges(x, "sturges")`` for data with this min, max and size.

    Sturges (1926): ``ceil(log2(n) + 1)`` equal-width bins over the range. Rebuilt from min/max
    so sorted columns need no concatenated copy; the arithmetic follows NumPy's
    ``_hist_bin_sturges`` step for step, so the edges are identical.
    """
    width = (high - low) / (math.log2(size) + 1.0)
    n_bins = math.ceil((high - low) / width) if width else 1
    return np.histogram_bin_edges(np.array([low, high]), bins=n_bins)


def histogram_counts_sorted(sorted_values: FloatArray, edges: FloatArray) -> IntArray:
    """``np.histogram(values, edges)[0]`` for sorted values (last bin closed, as NumPy's)."""
    left = np.searchsorted(sorted_values, edges[:-1], side="left")
    right = np.searchsorted(sorted_values, edges[1:], side="left")
    right[-1] = np.searchsorted(sorted_values, edges[-1], side="right")
    return (right - left).astype(np.int64)


class CategoryCounts(NamedTuple):
    """Counts per category on both sides, over the union of their categories."""

    categories: list[Any]
    reference: IntArray
    current: IntArray
    reference_missing: int
    current_missing: int


def _factorize(values: Any) -> tuple[IntArray, Any]:
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        values = np.where(np.isinf(values), np.nan, values)  # +/-inf is missing, as NaN
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), uniques  # a fresh array: safe to shift in place


def category_counts(reference: Any, current: Any) -> CategoryCounts:
    """Return the union of categories and each side's count and missing count.

    Each side is factorised once (``pandas.factorize``: hashing, or Arrow's dictionary encoding
    for Arrow-backed strings) and the current side's categories are matched to the
    reference's; categories keep the order of first appearance, the reference's first.
    Missing values (None, NaN, +/-inf) are counted, not categorised.
    """
    ref_codes, ref_uniques = _factorize(reference)
    cur_codes, cur_uniques = _factorize(current)
    # Count per side on its own codes (shifted by one so missing, -1, lands in slot 0), then
    # place the current side's counts at its categories' positions in the union: no per-row
    # remapping, no second pass over the data.
    ref_codes += 1
    cur_codes += 1
    ref_counts = np.bincount(ref_codes, minlength=len(ref_uniques) + 1)
    cur_by_unique = np.bincount(cur_codes, minlength=len(cur_uniques) + 1)
    position = pd.Index(ref_uniques).get_indexer(pd.Index(cur_uniques)).astype(np.int64)
    new = position < 0
    position[new] = len(ref_uniques) + np.arange(int(new.sum()))
    categories = [*list(ref_uniques), *list(np.asarray(cur_uniques, dtype=object)[new])]
    cur_counts = np.zeros(len(categories), dtype=np.int64)
    cur_counts[position] = cur_by_unique[1:]
    reference_counts = np.zeros(len(categories), dtype=np.int64)
    reference_counts[: len(ref_uniques)] = ref_counts[1:]
    return CategoryCounts(
        categories, reference_counts, cur_counts, int(ref_counts[0]), int(cur_by_unique[0])
    )
