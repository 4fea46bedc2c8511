"""First Wasserstein (earth mover's) distance, raw and normalised by the reference's spread."""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.monitoring.stats._inputs import FloatArray, as_sample

MIN_NORM = 0.001
"""Floor on the reference standard deviation, as Evidently's ``wasserstein`` test."""


def wasserstein_sorted(u_sorted: FloatArray, v_sorted: FloatArray) -> float:
    """W1 distance of two sorted, finite, non-empty samples.

    ``W1 = integral_0^1 |F_u^-1(t) - F_v^-1(t)| dt`` (Ramdas, Garcia & Cuturi 2017, eq. 3),
    the same integral SciPy's ``wasserstein_distance`` takes over the CDFs. On the quantile
    side the breakpoints are ``k / n`` and ``l / m``, two arithmetic grids whose merged order
    is known in closed form, so no pooled sort or search is needed: each segment between
    consecutive breakpoints pairs one order statistic of each sample. Equal sizes reduce to
    ``mean |u_(i) - v_(i)|``.
    """
    n, m = u_sorted.size, v_sorted.size
    if n == m:
        gaps = u_sorted - v_sorted
        return float(np.mean(np.abs(gaps, out=gaps)))
    k = np.arange(1, n + 1, dtype=np.int64)  # breakpoints k / n
    ell = np.arange(1, m + 1, dtype=np.int64)  # breakpoints l / m
    # Merged order, u's breakpoint first on ties: before k / n come k - 1 of u's and the
    # l / m < k / n, i.e. ceil(k m / n) - 1 of v's; before l / m, l - 1 of v's and the
    # k / n <= l / m, i.e. floor(l n / m) of u's.
    pos_u = k - 1 + (k * m + n - 1) // n - 1
    pos_v = ell - 1 + (ell * n) // m
    breakpoints = np.empty(n + m, dtype=np.float64)
    breakpoints[pos_u] = k / n
    breakpoints[pos_v] = ell / m
    # On the segment ending at a breakpoint t, F^-1 takes order statistic ceil(t * size) - 1.
    index_u = np.empty(n + m, dtype=np.int64)
    index_u[pos_u] = k - 1
    index_u[pos_v] = (ell * n + m - 1) // m - 1
    index_v = np.empty(n + m, dtype=np.int64)
    index_v[pos_v] = ell - 1
    index_v[pos_u] = (k * m + n - 1) // n - 1
    widths = np.diff(breakpoints, prepend=0.0)
    return float(np.dot(widths, np.abs(u_sorted[index_u] - v_sorted[index_v])))


def wasserstein_distance(reference: Any, current: Any) -> float:
    """W1 distance of two numeric samples; equals ``scipy.stats.wasserstein_distance``."""
    u = np.sort(as_sample(reference, "reference"))
    v = np.sort(as_sample(current, "current"))
    return wasserstein_sorted(u, v)


def normalized_wasserstein_sorted(
    reference_sorted: FloatArray, current_sorted: FloatArray
) -> float:
    """``W1 / max(std(reference), 0.001)`` on sorted samples: Evidently's ``wasserstein``."""
    norm = max(float(np.std(reference_sorted)), MIN_NORM)
    return wasserstein_sorted(reference_sorted, current_sorted) / norm


def normalized_wasserstein(reference: Any, current: Any) -> float:
    """Wasserstein distance in reference standard deviations (population std, floor 0.001).

    Evidently's ``wasserstein`` drift score, ``wasserstein_distance(ref, cur) / std(ref)``,
    default drift threshold 0.1: a shift of a tenth of a standard deviation.
    """
    u = np.sort(as_sample(reference, "reference"))
    v = np.sort(as_sample(current, "current"))
    return normalized_wasserstein_sorted(u, v)
