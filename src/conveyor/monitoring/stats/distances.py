"""Distances between two discrete distributions given as counts over the same bins.

Each normalises both count vectors to proportions ``p`` (reference) and ``q`` (current).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.stats._inputs import FloatArray, as_count_pair, proportions


def _rel_entr(x: FloatArray, y: FloatArray) -> FloatArray:
    """``scipy.special.rel_entr`` for ``x >= 0``, ``y > 0`` where ``x > 0``: ``x ln(x / y)``."""
    out = np.zeros_like(x)
    positive = x > 0
    out[positive] = x[positive] * np.log(x[positive] / y[positive])
    return out


def jensen_shannon_from_counts(
    reference_counts: Any, current_counts: Any, *, base: float | None = None
) -> float:
    """Jensen-Shannon distance ``sqrt((KL(p || m) + KL(q || m)) / 2)``, ``m = (p + q) / 2``.

    Lin (1991), "Divergence measures based on the Shannon entropy"; the distance is the square
    root of the divergence (Endres & Schindelin 2003). Natural log unless ``base`` is given, so
    the value lies in ``[0, sqrt(ln 2)]``. Computed as ``scipy.spatial.distance.jensenshannon``.

    >>> round(jensen_shannon_from_counts([1, 0], [0, 1], base=2), 6)
    1.0
    """
    if base is not None and (not np.isfinite(base) or base <= 0 or base == 1):
        msg = f"base must be a positive number other than 1, got {base!r}"
        raise InvalidArgumentError(msg, field="base")
    p, q = (proportions(c) for c in as_count_pair(reference_counts, current_counts))
    m = (p + q) / 2.0
    divergence = float(np.sum(_rel_entr(p, m)) + np.sum(_rel_entr(q, m)))
    if base is not None:
        divergence /= float(np.log(base))
    return float(np.sqrt(max(divergence, 0.0) / 2.0))


def hellinger_from_counts(reference_counts: Any, current_counts: Any) -> float:
    """Hellinger distance ``sqrt(1 - sum_i sqrt(p_i * q_i))``, in ``[0, 1]``.

    Hellinger (1909); the Bhattacharyya-coefficient form that Evidently uses, with the
    coefficient clipped to ``[0, 1]`` against rounding.
    """
    p, q = (proportions(c) for c in as_count_pair(reference_counts, current_counts))
    coefficient = float(np.clip(np.sum(np.sqrt(p * q)), 0.0, 1.0))
    return float(np.sqrt(1.0 - coefficient))


def linf_from_counts(reference_counts: Any, current_counts: Any) -> float:
    """L-infinity (Chebyshev) distance ``max_i |p_i - q_i|``, in ``[0, 1]``.

    The largest change in any one bin's share: TFX Data Validation's categorical drift measure.
    """
    p, q = (proportions(c) for c in as_count_pair(reference_counts, current_counts))
    return float(np.max(np.abs(p - q)))
