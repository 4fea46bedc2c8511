"""Realized regression errors per window: mergeable sums of per-row losses."""

from __future__ import annotations

import math
from typing import Self

import numpy as np
from numpy.typing import ArrayLike

from conveyor.monitoring.performance._inputs import (
    FloatArray,
    as_float_vector,
    check_same_length,
)


class _MeanLoss:
    """Running count and sum of a per-row loss; the mean is exact under merge."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0

    def update(self, y_true: ArrayLike, y_pred: ArrayLike) -> Self:
        """Add the losses of one batch of targets and predictions."""
        truth = as_float_vector(y_true, field="y_true", min_rows=0)
        pred = as_float_vector(y_pred, field="y_pred", min_rows=0)
        check_same_length({"y_true": truth, "y_pred": pred})
        self.count += len(truth)
        self.total += float(self._loss(truth, pred).sum())
        return self

    def merge(self, other: Self) -> Self:
        """Add ``other``'s count and sum (the same metric) to this one's."""
        self.count += other.count
        self.total += other.total
        return self

    def __iadd__(self, other: Self) -> Self:
        """Merge ``other`` into this accumulator."""
        return self.merge(other)

    def _mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def value(self) -> float | None:
        """Return the metric over every row seen, or None when no row was seen."""
        return self._mean()

    def _loss(self, truth: FloatArray, pred: FloatArray) -> FloatArray:
        raise NotImplementedError


class MeanAbsoluteError(_MeanLoss):
    """MAE ``mean(|y - ŷ|)``.

    Examples:
        >>> MeanAbsoluteError().update([1.0, 2.0, 4.0], [1.5, 2.0, 3.0]).value()
        0.5
    """

    def _loss(self, truth: FloatArray, pred: FloatArray) -> FloatArray:
        return np.abs(truth - pred)


class RootMeanSquaredError(_MeanLoss):
    """RMSE ``sqrt(mean((y - ŷ)²))``; the sum of squares merges, the root is taken last.

    Examples:
        >>> RootMeanSquaredError().update([0.0, 0.0], [3.0, -4.0]).value() == 12.5**0.5
        True
    """

    def _loss(self, truth: FloatArray, pred: FloatArray) -> FloatArray:
        return np.square(truth - pred)

    def value(self) -> float | None:
        """Return the RMSE over every row seen, or None when no row was seen."""
        mean = self._mean()
        return None if mean is None else math.sqrt(mean)


class MeanAbsolutePercentageError(_MeanLoss):
    """MAPE ``mean(|y - ŷ| / max(|y|, ε))`` as a fraction, ε the float64 machine epsilon.

    The ε floor is scikit-learn's ``mean_absolute_percentage_error`` definition: a zero target
    gives a huge but finite term instead of a division by zero.

    Examples:
        >>> MeanAbsolutePercentageError().update([2.0, 4.0], [1.0, 5.0]).value()
        0.375
    """

    def _loss(self, truth: FloatArray, pred: FloatArray) -> FloatArray:
        floor = np.finfo(np.float64).eps
        return np.abs(truth - pred) / np.maximum(np.abs(truth), floor)
