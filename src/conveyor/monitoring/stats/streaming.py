"""Streaming, mergeable drift statistics over fixed bins (River's ``update``/``value`` shape).

Each statistic holds the reference's bins (interior numeric edges, or a category list) with the
reference counts, and counts current batches into the same bins. State is a fixed-size count
vector, so memory is constant per window, and ``merge`` adds counts: merging the sketches of two
windows gives exactly the statistic of their concatenated data.

>>> stat = PSI.from_reference([1.0, 2.0, 3.0, 4.0], bins=2)
>>> round(stat.update([1.0, 1.5, 3.5]).value(), 6)
0.115525
>>> stat.counts_.tolist(), stat.missing_
([2, 1], 0)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.stats._inputs import FloatArray, as_counts, as_sample
from conveyor.monitoring.stats.binning import IntArray, edges_counts, quantile_edges
from conveyor.monitoring.stats.distances import (
    hellinger_from_counts,
    jensen_shannon_from_counts,
    linf_from_counts,
)
from conveyor.monitoring.stats.frequency_tests import chi2_from_counts
from conveyor.monitoring.stats.psi import PSI_EPS, psi_from_counts


class CountStatistic:
    """Base of the count-based statistics: reference bins and counts, current counts.

    Give ``edges`` (sorted interior cut points, ``len(edges) + 1`` bins) for a numeric column or
    ``categories`` for a categorical one; ``reference_counts`` has one count per bin or category.
    Categorical statistics keep one extra bucket, last, for values the reference never had
    (reference count 0), so a new category shows up as drift instead of vanishing.
    """

    def __init__(
        self,
        *,
        reference_counts: Any,
        edges: Any = None,
        categories: Sequence[Any] | None = None,
    ) -> None:
        if (edges is None) == (categories is None):
            msg = "give exactly one of edges (numeric bins) or categories"
            raise InvalidArgumentError(msg, field="edges")
        self.edges = None if edges is None else np.asarray(edges, dtype=np.float64)
        self.categories = None if categories is None else list(categories)
        self.reference_counts = as_counts(reference_counts, "reference_counts")
        self._check_shapes()
        size = self.reference_counts.size + (0 if self.categories is None else 1)
        if self.categories is not None:
            self.reference_counts = np.append(self.reference_counts, 0.0)
            self._index = pd.Index(self.categories)
        self.counts_: IntArray = np.zeros(size, dtype=np.int64)
        self.missing_ = 0

    def _check_shapes(self) -> None:
        if self.edges is not None:
            if self.edges.ndim != 1 or not np.isfinite(self.edges).all():
                msg = "edges must be a 1-D array of finite numbers"
                raise InvalidArgumentError(msg, field="edges")
            if (np.diff(self.edges) <= 0).any():
                msg = "edges must be strictly increasing"
                raise InvalidArgumentError(msg, field="edges")
            expected = self.edges.size + 1
        else:
            assert self.categories is not None  # noqa: S101 - one of the two is set (checked)
            if len(set(self.categories)) != len(self.categories):
                msg = "categories must be unique"
                raise InvalidArgumentError(msg, field="categories")
            expected = len(self.categories)
        if self.reference_counts.size != expected:
            msg = f"reference_counts needs {expected} counts (one per bin), got "
            msg += str(self.reference_counts.size)
            raise InvalidArgumentError(msg, field="reference_counts")

    @classmethod
    def from_reference(cls, reference: Any, *, bins: int = 10) -> Self:
        """Build from a numeric reference sample: ``bins`` quantile bins and their counts."""
        values = as_sample(reference, "reference")
        edges = quantile_edges(values, bins)
        return cls(reference_counts=edges_counts(values, edges), edges=edges)

    @classmethod
    def from_categories(cls, reference: Any) -> Self:
        """Build from a categorical reference sample: its categories and their counts."""
        counts = pd.Series(np.asarray(reference, dtype=object)).value_counts(sort=False)
        if counts.empty:
            msg = "reference has no non-missing values to take categories from"
            raise InvalidArgumentError(msg, field="reference")
        return cls(reference_counts=counts.to_numpy(), categories=list(counts.index))

    def update(self, batch: Any) -> Self:
        """Count a batch of current values; NaN, inf and None are counted in ``missing_``."""
        values = np.asarray(batch)
        if values.ndim != 1:
            msg = f"batch must be 1-D, got shape {values.shape}"
            raise InvalidArgumentError(msg, field="batch")
        if self.edges is not None:
            self._update_numeric(values)
        else:
            codes = self._index.get_indexer(values)
            missing = np.asarray(pd.isna(values))
            self.missing_ += int(missing.sum())
            codes[(codes < 0) & ~missing] = self.counts_.size - 1
            self.counts_ += np.bincount(codes[codes >= 0], minlength=self.counts_.size)
        return self

    def _update_numeric(self, values: Any) -> None:
        assert self.edges is not None  # noqa: S101 - numeric statistics only
        try:
            numbers = values.astype(np.float64, copy=False)
        except (TypeError, ValueError) as exc:
            msg = f"batch must be numbers for a numeric statistic ({exc})"
            raise InvalidArgumentError(msg, field="batch") from exc
        finite = np.isfinite(numbers)
        self.missing_ += int(finite.size - np.count_nonzero(finite))
        self.counts_ += edges_counts(numbers[finite], self.edges)

    def merge(self, other: Self) -> Self:
        """Return a new statistic whose current counts are ``self``'s plus ``other``'s."""
        same_bins = (
            type(other) is type(self)
            and np.array_equal(self.reference_counts, other.reference_counts)
            and self.categories == other.categories
            and _same_edges(self.edges, other.edges)
        )
        if not same_bins:
            msg = "can only merge statistics of the same type built on the same reference"
            raise InvalidArgumentError(msg, field="other")
        merged = copy.deepcopy(self)
        merged.counts_ = self.counts_ + other.counts_
        merged.missing_ = self.missing_ + other.missing_
        return merged

    def __add__(self, other: Self) -> Self:
        return self.merge(other)

    def value(self) -> float:
        """The statistic on the counts so far (subclasses define it)."""
        raise NotImplementedError


def _same_edges(a: FloatArray | None, b: FloatArray | None) -> bool:
    if a is None or b is None:
        return a is b
    return bool(np.array_equal(a, b))


class PSI(CountStatistic):
    """Population Stability Index of the current counts (see ``psi_from_counts``)."""

    def __init__(self, *, eps: float = PSI_EPS, **bins: Any) -> None:
        super().__init__(**bins)
        self.eps = eps

    def value(self) -> float:
        """PSI, >= 0; 0.1 and 0.25 are the usual warn and alert levels."""
        return psi_from_counts(self.reference_counts, self.counts_, eps=self.eps)


class JensenShannon(CountStatistic):
    """Jensen-Shannon distance of the current counts (natural log, see the function)."""

    def value(self) -> float:
        """Jensen-Shannon distance in ``[0, sqrt(ln 2)]``."""
        return jensen_shannon_from_counts(self.reference_counts, self.counts_)


class Hellinger(CountStatistic):
    """Hellinger distance of the current counts."""

    def value(self) -> float:
        """Hellinger distance in ``[0, 1]``."""
        return hellinger_from_counts(self.reference_counts, self.counts_)


class LInfinity(CountStatistic):
    """L-infinity distance of the current counts' shares."""

    def value(self) -> float:
        """Largest absolute change of one bin's share, in ``[0, 1]``."""
        return linf_from_counts(self.reference_counts, self.counts_)


class ChiSquare(CountStatistic):
    """Pearson chi-square test of the current counts against the reference shares."""

    def value(self) -> float:
        """The test's p-value (small means drift), as Evidently's ``chisquare`` score."""
        return chi2_from_counts(self.reference_counts, self.counts_).p_value
