"""Latency quantiles from raw samples or from bucketed histograms (Prometheus ``le`` buckets).

Replicas export latency as histograms, which merge by adding counts; a quantile is then read
the way PromQL's ``histogram_quantile`` reads it, so a report agrees with the dashboards.

>>> hist = LatencyHistogram((0.05, 0.1, 0.5, math.inf), (60, 30, 9, 1))
>>> round(hist.quantile(0.5), 6), round(hist.quantile(0.99), 6)
(0.041667, 0.5)
>>> round(latency_quantile([0.01, 0.02, 0.03, 0.04], 0.5), 6)
0.025
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.rollout._validation import as_values, check_count


@dataclass(frozen=True)
class LatencyHistogram:
    """Request latencies counted into buckets ``(upper_bounds_s[i-1], upper_bounds_s[i]]``.

    ``counts`` are per bucket (not cumulative); the first bucket starts at 0. The last bound is
    usually ``math.inf`` (Prometheus' ``+Inf`` bucket), which catches every slower request.
    """

    upper_bounds_s: tuple[float, ...]
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        bounds = tuple(float(b) for b in self.upper_bounds_s)
        counts = tuple(check_count(c, "counts") for c in self.counts)
        if not bounds or len(bounds) != len(counts):
            msg = (
                f"a histogram needs one count per bucket bound, got {len(bounds)} bounds and "
                f"{len(counts)} counts"
            )
            raise InvalidArgumentError(msg, field="counts")
        array = np.asarray(bounds)
        if np.isnan(array).any() or array[0] <= 0 or (np.diff(array) <= 0).any():
            msg = f"upper_bounds_s must be positive and strictly increasing, got {list(bounds)}"
            raise InvalidArgumentError(msg, field="upper_bounds_s")
        if len(bounds) == 1 and math.isinf(bounds[0]):
            msg = "a histogram needs at least one finite bucket bound to place quantiles"
            raise InvalidArgumentError(msg, field="upper_bounds_s")
        object.__setattr__(self, "upper_bounds_s", bounds)
        object.__setattr__(self, "counts", counts)

    @classmethod
    def from_cumulative(
        cls, upper_bounds_s: Sequence[float], cumulative_counts: Sequence[int]
    ) -> LatencyHistogram:
        """Build from Prometheus-style cumulative ``le`` bucket counts."""
        cumulative = [check_count(c, "cumulative_counts") for c in cumulative_counts]
        if any(later < earlier for earlier, later in itertools.pairwise(cumulative)):
            msg = f"cumulative_counts must not decrease, got {cumulative}"
            raise InvalidArgumentError(msg, field="cumulative_counts")
        counts = np.diff(np.asarray([0, *cumulative], dtype=np.int64))
        return cls(tuple(upper_bounds_s), tuple(int(c) for c in counts))

    @property
    def total(self) -> int:
        """Number of requests counted."""
        return sum(self.counts)

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        """Return the histogram of both windows (same buckets required)."""
        if other.upper_bounds_s != self.upper_bounds_s:
            msg = "can only merge latency histograms with the same bucket bounds"
            raise InvalidArgumentError(msg, field="other")
        counts = tuple(x + y for x, y in zip(self.counts, other.counts, strict=True))
        return LatencyHistogram(self.upper_bounds_s, counts)

    def __add__(self, other: LatencyHistogram) -> LatencyHistogram:
        return self.merge(other)

    def quantile(self, q: float) -> float | None:
        """Return the ``q``-quantile as PromQL's ``histogram_quantile``; None when empty.

        Linear interpolation inside the bucket holding rank ``q * total``; a rank in the
        ``+Inf`` bucket returns the largest finite bound (the histogram knows no more).
        """
        _check_quantile(q)
        total = self.total
        if total == 0:
            return None
        cumulative = np.cumsum(self.counts)
        rank = q * total
        last = len(self.counts) - 1
        bucket = int(np.searchsorted(cumulative[:last], rank, side="left"))
        if math.isinf(self.upper_bounds_s[bucket]):
            return self.upper_bounds_s[bucket - 1]
        start = self.upper_bounds_s[bucket - 1] if bucket else 0.0
        end = self.upper_bounds_s[bucket]
        below = float(cumulative[bucket - 1]) if bucket else 0.0
        in_bucket = self.counts[bucket]
        if in_bucket == 0:  # only for q = 0 on an empty first bucket
            return start
        return start + (end - start) * (rank - below) / in_bucket


LatencyInput = LatencyHistogram | Sequence[float] | np.ndarray[Any, Any]


def latency_quantile(latency_s: LatencyInput, q: float) -> float | None:
    """Return the ``q``-quantile of latencies in seconds, or None with no requests.

    Samples use NumPy's default (linear) quantile; histograms use ``LatencyHistogram.quantile``.
    """
    if isinstance(latency_s, LatencyHistogram):
        return latency_s.quantile(q)
    _check_quantile(q)
    values = as_values(latency_s, "latency_s")
    if values.size == 0:
        return None
    if (values < 0).any():
        msg = "latency_s must be >= 0 seconds; check the clock used to time requests"
        raise InvalidArgumentError(msg, field="latency_s")
    return float(np.quantile(values, q))


def _check_quantile(q: float) -> None:
    if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 1:
        msg = f"q must be a quantile between 0 and 1 (0.99 for p99), got {q!r}"
        raise InvalidArgumentError(msg, field="q")
