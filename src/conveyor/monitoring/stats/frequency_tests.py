"""Tests on category frequencies: Pearson's chi-square and the two-proportion Z-test."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.stats._inputs import as_count_pair


class TestResult(NamedTuple):
    """A test statistic and its p-value."""

    statistic: float
    p_value: float


def chi2_from_counts(reference_counts: Any, current_counts: Any) -> TestResult:
    """Pearson's chi-square goodness of fit of the current counts to the reference's shares.

    Expected counts are the reference counts scaled to the current total,
    ``e_i = r_i * sum(c) / sum(r)``; ``X^2 = sum_i (c_i - e_i)^2 / e_i`` with ``k - 1`` degrees
    of freedom (Pearson 1900). This is ``scipy.stats.chisquare(current, e)``, which is what
    Evidently's ``chisquare`` test runs. A category absent from the reference but present in
    the current data makes ``X^2`` infinite (p-value 0) instead of dividing by zero; a single
    category gives ``X^2 = 0``, p-value 1 (nothing can have moved).
    """
    from scipy.stats import chi2  # lazy: scipy.stats costs ~60 MB of memory to import

    ref, cur = as_count_pair(reference_counts, current_counts)
    keep = (ref > 0) | (cur > 0)
    ref, cur = ref[keep], cur[keep]
    if ref.size < 2:
        return TestResult(0.0, 1.0)
    expected = ref * (cur.sum() / ref.sum())
    if (cur[expected == 0] > 0).any():
        return TestResult(math.inf, 0.0)
    statistic = float(np.sum((cur - expected) ** 2 / expected))
    return TestResult(statistic, float(chi2.sf(statistic, ref.size - 1)))


def z_test_proportions(
    reference_successes: int, reference_total: int, current_successes: int, current_total: int
) -> TestResult:
    """Two-sided Z-test that two samples share one success proportion.

    ``z = (p1 - p2) / sqrt(P (1 - P) (1/n1 + 1/n2))`` with the pooled ``P = (x1 + x2) /
    (n1 + n2)`` and ``p = 2 * (1 - Phi(|z|))`` (Fleiss, *Statistical Methods for Rates and
    Proportions*, 3rd ed., section 2.6); Evidently's ``z`` test. When every observation on both
    sides is in the same class the samples cannot differ: ``z = 0``, p-value 1.
    """
    pairs = (
        ("reference_successes", reference_successes, "reference_total", reference_total),
        ("current_successes", current_successes, "current_total", current_total),
    )
    for s_name, successes, n_name, total in pairs:
        if total <= 0:
            msg = f"{n_name} must be positive, got {total}"
            raise InvalidArgumentError(msg, field=n_name)
        if not 0 <= successes <= total:
            msg = f"{s_name} must be between 0 and {n_name} ({total}), got {successes}"
            raise InvalidArgumentError(msg, field=s_name)
    p1 = reference_successes / reference_total
    p2 = current_successes / current_total
    pooled = (reference_successes + current_successes) / (reference_total + current_total)
    variance = pooled * (1 - pooled) * (1 / reference_total + 1 / current_total)
    if variance <= 0:
        return TestResult(0.0, 1.0)
    from scipy.special import ndtr  # lazy, as above; ~100x faster than stats.norm.sf

    z = (p1 - p2) / math.sqrt(variance)
    return TestResult(z, float(2 * ndtr(-abs(z))))
