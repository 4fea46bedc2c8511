"""When to send a batch: the batch latency model (a·rows + b) and the arrival forecast.

``AdaptiveBatcher`` (``batching.py``) asks ``LatencyModel`` what a batch of n rows costs and
``ArrivalForecast`` when the next requests will come, and waits only when that pays.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np


def theil_sen(rows: Sequence[int], seconds: Sequence[float]) -> tuple[float, float]:
    """Fit ``seconds ≈ a·rows + b`` robustly; return ``(a, b)``, both clipped at 0.

    The slope is the median of the slopes between every two points with different row
    counts; the intercept the median of ``seconds - a·rows``. With one row count only, the
    slope is 0 and the intercept the median.

    Examples:
        >>> theil_sen([1, 2, 3, 4, 5], [1.5, 2.5, 3.5, 40.0, 5.5])
        (1.0, 0.5)

    References:
        Sen, P. K. (1968). Estimates of the regression coefficient based on Kendall's tau.
        Journal of the American Statistical Association 63(324), 1379-1389.
    """
    x = np.asarray(rows, dtype=float)
    y = np.asarray(seconds, dtype=float)
    dx = x[:, None] - x[None, :]
    apart = dx > 0
    slope = float(np.median((y[:, None] - y[None, :])[apart] / dx[apart])) if apart.any() else 0.0
    slope = max(slope, 0.0)
    return slope, max(float(np.median(y - slope * x)), 0.0)


class LatencyModel:
    """Batch latency ``a·rows + b``, refitted (Theil-Sen) over the last ``window`` batches.

    The first ``skip`` batches are ignored: they pay for lazy initialisation and cold caches.
    Until ``min_samples`` batches are seen, ``a = b = 0``, which never delays a batch. After
    warm-up, the fit is redone at most every ``refit_interval_s`` (a fit costs ~0.1 ms).
    """

    def __init__(
        self,
        *,
        window: int = 64,
        skip: int = 2,
        min_samples: int = 4,
        refit_every: int = 8,
        refit_interval_s: float = 0.25,
    ) -> None:
        self._samples: deque[tuple[int, float]] = deque(maxlen=window)
        self._skip = skip
        self._min_samples = min_samples
        self._refit_every = refit_every
        self._refit_interval_s = refit_interval_s
        self._unfitted = 0
        self._fitted_at = -math.inf
        self.a_s = 0.0
        self.b_s = 0.0

    def observe(self, rows: int, seconds: float, *, now: float) -> None:
        """Record one batch that took ``seconds`` for ``rows``, finished at ``now``."""
        if self._skip > 0:
            self._skip -= 1
            return
        self._samples.append((rows, seconds))
        self._unfitted += 1
        count = len(self._samples)
        if count < self._min_samples:
            return
        if count <= self._refit_every or (
            self._unfitted >= self._refit_every and now - self._fitted_at >= self._refit_interval_s
        ):
            self.refit(now=now)

    def refit(self, *, now: float) -> None:
        """Fit ``a`` and ``b`` to the batches in the window now."""
        if self._samples:
            rows, seconds = zip(*self._samples, strict=True)
            self.a_s, self.b_s = theil_sen(rows, seconds)
        self._unfitted = 0
        self._fitted_at = now

    @property
    def fitted(self) -> bool:
        """Whether ``a`` and ``b`` come from measured batches (not the warm-up zeros)."""
        return self._fitted_at > -math.inf

    def seconds(self, rows: int) -> float:
        """Return the expected seconds of a batch of ``rows`` rows."""
        return self.a_s * rows + self.b_s


class ArrivalForecast:
    """Predicts when the next requests will arrive, from two signals.

    * Open loop: the gaps between recent arrivals. Given the quiet time since the last
      arrival, the next one is expected after the mean excess of the longer gaps over it (the
      empirical mean residual life), which reads bursts and steady streams alike.
    * Closed loop: a client sends its next request soon after its answer. Each finished batch
      releases its callers; they are expected back spread between the first and the last
      return lag seen after earlier batches (smoothed), and written off once overdue.
    """

    def __init__(self, *, window: int = 32, smoothing: float = 0.25, overdue: float = 1.25) -> None:
        self._gaps: deque[float] = deque(maxlen=window)
        self._smoothing = smoothing
        self._overdue = overdue
        self._last_arrival: float | None = None
        self._last_completion = 0.0
        self._returns_due = 0
        self._cycle_first: float | None = None  # return lags seen since the last completion
        self._cycle_last = 0.0
        self._lag_first: float | None = None  # their smoothed values over completions
        self._lag_last = 0.0

    def on_arrival(self, now: float) -> None:
        """Record a request arriving at ``now`` (seconds, monotonic)."""
        if self._last_arrival is not None:
            self._gaps.append(now - self._last_arrival)
        self._last_arrival = now
        if self._returns_due > 0:
            self._returns_due -= 1
            lag = now - self._last_completion
            if self._cycle_first is None:
                self._cycle_first = lag
            self._cycle_last = lag

    def on_completion(self, now: float, requests: int) -> None:
        """Record a batch answering ``requests`` callers at ``now``."""
        if self._cycle_first is not None:
            if self._lag_first is None:
                self._lag_first, self._lag_last = self._cycle_first, self._cycle_last
            else:
                keep = 1.0 - self._smoothing
                self._lag_first = keep * self._lag_first + self._smoothing * self._cycle_first
                self._lag_last = keep * self._lag_last + self._smoothing * self._cycle_last
        self._cycle_first = None
        self._last_completion = now
        self._returns_due = requests

    def horizon(self, now: float, *, queued: int, saving_s: float) -> float | None:
        """Return until when waiting for more requests pays, or ``None`` to dispatch now.

        Waiting ``w`` for ``j`` more requests gains ``j·saving_s - (queued + j)·w``.
        """
        best_gain, until = 0.0, None
        for gain, when in (
            self._next_arrival(now, queued, saving_s),
            self._returning_callers(now, queued, saving_s),
        ):
            if gain > best_gain and when > now:
                best_gain, until = gain, when
        return until

    def _next_arrival(self, now: float, queued: int, saving_s: float) -> tuple[float, float]:
        if self._last_arrival is None:
            return 0.0, now
        quiet = now - self._last_arrival
        longer = [gap for gap in self._gaps if gap > quiet]
        if not longer:
            return 0.0, now
        wait = sum(longer) / len(longer) - quiet
        # Re-decide when the quiet time passes the next gap seen: the estimate jumps there.
        return saving_s - (queued + 1) * wait, self._last_arrival + min(longer)

    def _returning_callers(self, now: float, queued: int, saving_s: float) -> tuple[float, float]:
        due = self._returns_due
        if due == 0 or self._lag_first is None:
            return 0.0, now
        since = now - self._last_completion
        last = self._lag_last * self._overdue
        if since >= last:
            return 0.0, now
        start = max(self._lag_first - since, 0.0)
        per_caller = max(last - max(since, self._lag_first), 0.0) / due
        # gain(j) = j·saving - (queued + j)·(start + per_caller·j) is concave in j.
        if per_caller > 0:
            best = round((saving_s - start - queued * per_caller) / (2 * per_caller))
            j = min(max(best, 1), due)
        else:
            j = due
        wait = start + per_caller * j
        return j * saving_s - (queued + j) * wait, now + wait
