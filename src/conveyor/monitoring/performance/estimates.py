"""Chunks and the estimated-metric record shared by CBPE and DLE (NannyML's result shape)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from conveyor.monitoring.performance._inputs import check_positive_int

# NannyML's SAMPLING_ERROR_RANGE: bands are the estimate ± 3 standard errors, and the default
# StandardDeviationThreshold puts alert thresholds at the reference mean ± 3 standard deviations.
SAMPLING_ERROR_RANGE = 3.0


@dataclass(frozen=True)
class Chunk:
    """Rows ``start`` (inclusive) to ``stop`` (exclusive) of the data, the ``index``-th chunk."""

    index: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        """Number of rows in the chunk."""
        return self.stop - self.start


def split_chunks(n_rows: int, chunk_size: int | None) -> list[Chunk]:
    """Split ``n_rows`` consecutive rows into chunks of ``chunk_size`` (None: one chunk).

    The last chunk keeps the remainder when ``n_rows`` is not a multiple of ``chunk_size``, as
    NannyML's ``SizeBasedChunker(incomplete="keep")`` does; its wider band reflects its size.

    Examples:
        >>> [(c.start, c.stop) for c in split_chunks(5, 2)]
        [(0, 2), (2, 4), (4, 5)]
    """
    if chunk_size is None:
        return [Chunk(0, 0, n_rows)] if n_rows else []
    check_positive_int(chunk_size, field="chunk_size")
    starts = range(0, n_rows, chunk_size)
    return [Chunk(i, s, min(s + chunk_size, n_rows)) for i, s in enumerate(starts)]


@dataclass(frozen=True)
class EstimatedMetric:
    """One metric estimated on one chunk.

    Attributes:
        chunk: the rows estimated.
        metric: the metric's name (``"accuracy"``, ``"roc_auc"``, ``"mae"``, ...).
        value: the estimate; None when it is undefined on the chunk (ROC AUC when every
            calibrated probability is 0, or every one is 1).
        sampling_error: standard error of the metric on a chunk of this size (NannyML's).
        lower: lower end of the confidence band, ``value - 3 x sampling_error``, clipped.
        upper: upper end of the confidence band, ``value + 3 x sampling_error``, clipped.
        lower_threshold: alert threshold, the reference chunks' realized mean - 3 std
            (None when the reference has fewer than two chunks).
        upper_threshold: the same, mean + 3 std.
        is_alert: the estimate lies outside the thresholds.
        realized: the metric computed from labels when they were given (None when not given,
            or when the metric is undefined on the chunk, e.g. ROC AUC on one class).
    """

    chunk: Chunk
    metric: str
    value: float | None
    sampling_error: float
    lower: float | None
    upper: float | None
    lower_threshold: float | None
    upper_threshold: float | None
    is_alert: bool
    realized: float | None = None


@dataclass(frozen=True)
class Thresholds:
    """Alert thresholds of one metric, from its realized values on the reference chunks."""

    lower: float | None
    upper: float | None

    @classmethod
    def from_reference(
        cls, values: Sequence[float | None], *, lower_limit: float | None, upper_limit: float | None
    ) -> Thresholds:
        """Return mean ± 3 x std (population) of the defined ``values``, clipped to the limits.

        NannyML's ``StandardDeviationThreshold`` with ``np.nanmean``/``np.nanstd``; fewer than
        two defined values give no thresholds.
        """
        defined = np.array([v for v in values if v is not None], dtype=np.float64)
        if len(defined) < 2:
            return cls(None, None)
        mean, std = float(defined.mean()), float(defined.std())
        lower = mean - SAMPLING_ERROR_RANGE * std
        upper = mean + SAMPLING_ERROR_RANGE * std
        if lower_limit is not None:
            lower = max(lower, lower_limit)
        if upper_limit is not None:
            upper = min(upper, upper_limit)
        return cls(lower, upper)

    def is_alert(self, value: float) -> bool:
        """Return whether ``value`` lies outside the thresholds."""
        return (self.lower is not None and value < self.lower) or (
            self.upper is not None and value > self.upper
        )


def band(
    value: float, sampling_error: float, *, lower_limit: float | None, upper_limit: float | None
) -> tuple[float, float]:
    """Return ``value ± 3 x sampling_error`` clipped to the metric's range."""
    lower = value - SAMPLING_ERROR_RANGE * sampling_error
    upper = value + SAMPLING_ERROR_RANGE * sampling_error
    if lower_limit is not None:
        lower = max(lower, lower_limit)
    if upper_limit is not None:
        upper = min(upper, upper_limit)
    return lower, upper


def estimated(
    chunk: Chunk,
    metric: str,
    value: float | None,
    sampling_error: float,
    thresholds: Thresholds,
    *,
    limits: tuple[float | None, float | None],
    realized: float | None,
) -> EstimatedMetric:
    """Build one chunk's record: the band around ``value`` and the alert against thresholds."""
    lower, upper = (
        (None, None)
        if value is None
        else band(value, sampling_error, lower_limit=limits[0], upper_limit=limits[1])
    )
    return EstimatedMetric(
        chunk=chunk,
        metric=metric,
        value=value,
        sampling_error=sampling_error,
        lower=lower,
        upper=upper,
        lower_threshold=thresholds.lower,
        upper_threshold=thresholds.upper,
        is_alert=value is not None and thresholds.is_alert(value),
        realized=realized,
    )


Calibration = Literal["auto", "isotonic", "none"]


class ConfidenceEstimator:
    """The configuration CBPE shares between its binary and multiclass forms."""

    def __init__(
        self,
        *,
        metrics: Sequence[str] = ("roc_auc", "f1", "accuracy"),
        chunk_size: int | None = None,
        calibration: Calibration = "auto",
    ) -> None:
        self.metrics = tuple(metrics)
        self.chunk_size = chunk_size
        self.calibration = calibration

    def get_params(self) -> dict[str, Any]:
        """Return the configuration given to ``__init__``."""
        return {
            "metrics": self.metrics,
            "chunk_size": self.chunk_size,
            "calibration": self.calibration,
        }
