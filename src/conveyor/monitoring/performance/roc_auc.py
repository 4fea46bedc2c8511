"""Realized binary ROC AUC per window from fixed-bin score histograms (constant memory)."""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import ArrayLike

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.performance._inputs import (
    as_binary_labels,
    as_probabilities,
    check_positive_int,
    check_same_length,
)


class RocAuc:
    """Binary ROC AUC, mergeable, from positive and negative score histograms on [0, 1].

    The AUC is the Mann-Whitney probability that a random positive scores above a random
    negative, ties counting one half (Hanley & McNeil 1982). Scores are counted in ``bins``
    equal-width bins per class, so a window costs ``2 x bins`` counters whatever its traffic and
    windows merge by adding counts. Pairs that share a bin count one half, which is the only
    approximation: ``|value() - exact| <= error_bound()``, at most ``1 / (2 x bins)`` for scores
    spread evenly (5e-4 with the default 1,000 bins), and 0 when scores take at most one distinct
    value per bin.

    ``value()`` is ``None`` while the window holds only one class (AUC is undefined there).

    References:
        Hanley, J. A. & McNeil, B. J. (1982). The meaning and use of the area under a receiver
        operating characteristic (ROC) curve. Radiology 143(1), 29-36.

    Examples:
        >>> auc = RocAuc().update([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> auc.value()
        0.75
        >>> RocAuc().update([1, 1], [0.2, 0.9]).value() is None
        True
    """

    def __init__(self, *, bins: int = 1000) -> None:
        check_positive_int(bins, field="bins")
        self.bins = bins
        self.positives = np.zeros(bins, dtype=np.int64)
        self.negatives = np.zeros(bins, dtype=np.int64)

    def update(self, y_true: ArrayLike, y_score: ArrayLike) -> Self:
        """Count one batch of 0/1 labels and positive-class probabilities."""
        labels = as_binary_labels(y_true, field="y_true", min_rows=0)
        scores = as_probabilities(y_score, field="y_score", min_rows=0)
        check_same_length({"y_true": labels, "y_score": scores})
        index = np.minimum((scores * self.bins).astype(np.int64), self.bins - 1)
        is_positive = labels == 1
        self.positives += np.bincount(index[is_positive], minlength=self.bins)
        self.negatives += np.bincount(index[~is_positive], minlength=self.bins)
        return self

    def merge(self, other: RocAuc) -> Self:
        """Add ``other``'s histograms to this one's (same ``bins`` required)."""
        if other.bins != self.bins:
            msg = f"bins: cannot merge RocAuc with {other.bins} bins into one with {self.bins}"
            raise InvalidArgumentError(msg, field="bins")
        self.positives += other.positives
        self.negatives += other.negatives
        return self

    def __iadd__(self, other: RocAuc) -> Self:
        """Merge ``other`` into this accumulator."""
        return self.merge(other)

    def _pairs(self) -> float:
        return float(self.positives.sum()) * float(self.negatives.sum())

    def value(self) -> float | None:
        """Return the AUC, or None when the window lacks positives or negatives."""
        pairs = self._pairs()
        if pairs == 0:
            return None
        negatives_below = np.cumsum(self.negatives) - self.negatives
        wins = self.positives.astype(np.float64) @ (negatives_below + 0.5 * self.negatives)
        return float(wins / pairs)

    def error_bound(self) -> float | None:
        """Return the largest possible gap to the exact AUC (pairs sharing a bin, halved)."""
        pairs = self._pairs()
        if pairs == 0:
            return None
        shared = self.positives.astype(np.float64) @ self.negatives.astype(np.float64)
        return float(shared / (2 * pairs))
