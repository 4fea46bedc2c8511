"""Streaming count, mean and variance, mergeable across batches and replicas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


class Moments:
    """Count, mean and ``M2`` (the sum of squared deviations) of a stream of finite floats.

    A batch's mean and ``M2`` are computed in two passes (stable), then combined with the
    running totals by Chan et al.'s pairwise formula::

        n = na + nb,  d = mean_b - mean_a
        mean = mean_a + d * nb / n
        M2 = M2_a + M2_b + d**2 * na * nb / n

    Examples:
        >>> import numpy as np
        >>> m = Moments().update(np.array([1.0, 2.0])).merge(Moments().update(np.array([3.0])))
        >>> (m.count, m.mean, m.variance())
        (3, 2.0, 1.0)

    References:
        T. F. Chan, G. H. Golub, R. J. LeVeque, "Updating Formulae and a Pairwise Algorithm for
        Computing Sample Variances", Stanford CS tech report STAN-CS-79-773 (1979).
    """

    __slots__ = ("count", "m2", "mean")

    def __init__(self, count: int = 0, mean: float = 0.0, m2: float = 0.0) -> None:
        self.count = count
        self.mean = mean
        self.m2 = m2

    def update(self, values: npt.NDArray[np.float64]) -> Moments:
        """Add a batch of finite values."""
        n = int(values.shape[0])
        if n == 0:
            return self
        mean = float(values.mean())
        deviations = values - mean
        return self._combine(n, mean, float(np.dot(deviations, deviations)))

    def merge(self, other: Moments) -> Moments:
        """Fold ``other`` into these moments (in place) and return them."""
        return self._combine(other.count, other.mean, other.m2)

    def merge_many(self, others: Sequence[Moments]) -> Moments:
        """Fold many moments at once: ``M2 = sum M2_i + sum n_i (mean_i - mean)**2``."""
        counts = np.array([self.count] + [o.count for o in others], dtype=np.float64)
        total = float(counts.sum())
        if total == 0:
            return self
        means = np.array([self.mean] + [o.mean for o in others])
        m2s = np.array([self.m2] + [o.m2 for o in others])
        mean = float(np.dot(counts, means) / total)
        spread = means - mean
        self.m2 = float(m2s.sum() + np.dot(counts, spread * spread))
        self.mean = mean
        self.count = int(total)
        return self

    def _combine(self, n: int, mean: float, m2: float) -> Moments:
        if n == 0:
            return self
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        return self

    def variance(self, ddof: int = 1) -> float:
        """Return ``M2 / (n - ddof)``; NaN when there are not more than ``ddof`` values."""
        return self.m2 / (self.count - ddof) if self.count > ddof else math.nan

    def std(self, ddof: int = 1) -> float:
        """Return the standard deviation (``ddof=1``: the sample one, as pandas)."""
        return math.sqrt(self.variance(ddof))

    def to_state(self) -> dict[str, Any]:
        """Return the moments as JSON scalars."""
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Moments:
        """Rebuild moments written by ``to_state``."""
        return cls(int(state["count"]), float(state["mean"]), float(state["m2"]))
