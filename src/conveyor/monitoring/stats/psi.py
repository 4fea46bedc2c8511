"""Population Stability Index (PSI) between a reference and a current distribution."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.stats._inputs import as_count_pair, as_sample, proportions
from conveyor.monitoring.stats.binning import edges_counts, quantile_edges

PSI_WARN = 0.1
"""PSI at or above this is a moderate shift (Siddiqi 2006, *Credit Risk Scorecards*, ch. 8)."""
PSI_ALERT = 0.25
"""PSI at or above this is a significant shift (same source)."""
PSI_EPS = 1e-4
"""Proportion substituted for an empty bin, so ``ln(q / p)`` stays finite (Evidently's 0.0001)."""

PsiLevel = Literal["ok", "warn", "alert"]


def psi_from_counts(reference_counts: Any, current_counts: Any, *, eps: float = PSI_EPS) -> float:
    """PSI of two count vectors over the same bins.

    ``PSI = sum_i (q_i - p_i) * ln(q_i / p_i)`` with ``p = reference / sum(reference)`` and
    ``q = current / sum(current)`` (Yurdakul 2018, "Statistical properties of population
    stability index"); a zero proportion on either side is replaced by ``eps`` first. PSI is the
    symmetrised Kullback-Leibler divergence, so it is >= 0 and 0 for equal distributions.

    >>> round(psi_from_counts([50, 50], [40, 60]), 6)
    0.040547
    """
    if not np.isfinite(eps) or not 0 < eps < 1:
        msg = f"eps must be in (0, 1), got {eps!r}"
        raise InvalidArgumentError(msg, field="eps")
    ref, cur = as_count_pair(reference_counts, current_counts)
    p = np.where(ref > 0, proportions(ref), eps)
    q = np.where(cur > 0, proportions(cur), eps)
    return max(float(np.sum((q - p) * np.log(q / p))), 0.0)


def psi(reference: Any, current: Any, *, bins: int = 10, eps: float = PSI_EPS) -> float:
    """PSI of two numeric samples on ``bins`` quantile bins of the reference.

    Ten equal-frequency reference bins is the usual practice (Siddiqi 2006); the current sample
    is counted on the same edges, values beyond the reference range falling in the outer bins.
    """
    cur = as_sample(current, "current")
    edges = quantile_edges(reference, bins)
    ref = as_sample(reference, "reference")
    return psi_from_counts(edges_counts(ref, edges), edges_counts(cur, edges), eps=eps)


def psi_level(value: float) -> PsiLevel:
    """Classify a PSI value: ``"ok"`` below 0.1, ``"warn"`` below 0.25, ``"alert"`` above."""
    if not np.isfinite(value) or value < 0:
        msg = f"a PSI value is finite and >= 0, got {value!r}"
        raise InvalidArgumentError(msg, field="value")
    if value >= PSI_ALERT:
        return "alert"
    return "warn" if value >= PSI_WARN else "ok"
