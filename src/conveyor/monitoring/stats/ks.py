"""Two-sample Kolmogorov-Smirnov test."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from conveyor.monitoring.stats._inputs import FloatArray, as_sample
from conveyor.monitoring.stats.frequency_tests import TestResult

# scipy.stats.ks_2samp's 'auto' method is exact up to this sample size, asymptotic beyond.
_SCIPY_MAX_EXACT_N = 10_000


def ks_2samp_sorted(reference_sorted: FloatArray, current_sorted: FloatArray) -> TestResult:
    """Two-sided two-sample KS test on already sorted, finite, non-empty float64 arrays.

    ``D = sup_x |F_ref(x) - F_cur(x)|`` over the empirical CDFs (Smirnov 1939). Up to 10,000
    values per side this calls ``scipy.stats.ks_2samp`` (exact distribution, as its ``auto``
    method); beyond, it evaluates both CDFs on the pooled sorted values with ``searchsorted``
    and takes SciPy's asymptotic p-value ``kstwo.sf(D, round(m n / (m + n)))``, so statistic
    and p-value equal ``ks_2samp``'s without sorting again.
    """
    from scipy.stats import distributions, ks_2samp  # lazy: scipy.stats costs ~60 MB

    n1, n2 = reference_sorted.size, current_sorted.size
    if max(n1, n2) <= _SCIPY_MAX_EXACT_N:
        with warnings.catch_warnings():
            # SciPy falls back from exact to asymptotic with a RuntimeWarning; same result.
            warnings.simplefilter("ignore", RuntimeWarning)
            result = ks_2samp(reference_sorted, current_sorted)
        return TestResult(float(result.statistic), float(result.pvalue))
    pooled = np.concatenate([reference_sorted, current_sorted])
    cdf_diff = np.searchsorted(reference_sorted, pooled, side="right") / n1
    cdf_diff -= np.searchsorted(current_sorted, pooled, side="right") / n2
    statistic = float(max(np.clip(-cdf_diff.min(), 0, 1), cdf_diff.max()))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p_value = float(np.clip(distributions.kstwo.sf(statistic, np.round(m * n / (m + n))), 0, 1))
    return TestResult(statistic, p_value)


def ks_2samp_test(reference: Any, current: Any) -> TestResult:
    """Two-sided two-sample KS test of two numeric samples (see ``ks_2samp_sorted``)."""
    ref = np.sort(as_sample(reference, "reference"))
    cur = np.sort(as_sample(current, "current"))
    return ks_2samp_sorted(ref, cur)
