"""Drift of one column: clean both sides, pick the test, compute the score.

Numeric columns are sorted once per side; KS, the Wasserstein distance, distinct counts and
histogram counts are all read from the sorted arrays (``searchsorted``), so no step sorts or
concatenates the raw data twice. NumPy's sort releases the GIL, so columns run in threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from conveyor.monitoring.drift_report import ColumnDrift
from conveyor.monitoring.drift_selection import (
    FEW_VALUES,
    Kind,
    StatTest,
    default_stattest,
    get_stattest,
)
from conveyor.monitoring.stats.binning import (
    CategoryCounts,
    category_counts,
    histogram_counts_sorted,
    sturges_edges,
)
from conveyor.monitoring.stats.distances import (
    hellinger_from_counts,
    jensen_shannon_from_counts,
    linf_from_counts,
)
from conveyor.monitoring.stats.frequency_tests import (
    TestResult,
    chi2_from_counts,
    z_test_proportions,
)
from conveyor.monitoring.stats.ks import ks_2samp_sorted
from conveyor.monitoring.stats.psi import psi_from_counts
from conveyor.monitoring.stats.wasserstein import normalized_wasserstein_sorted

FloatArray = npt.NDArray[np.float64]
Counts = npt.NDArray[np.int64]
Sizes = tuple[int, int, int, int]  # reference/current usable rows, then missing counts

# Evidently bins a numeric column for count-based tests by its values when the reference has
# at most this many distinct values, and into Sturges bins over the pooled range beyond.
VALUE_BINS_LIMIT = 20


@dataclass(frozen=True)
class ColumnTask:
    """One column to test: its kind and the caller's overrides (None: automatic)."""

    name: str
    kind: Kind
    stattest: str | None
    threshold: float | None


def is_numeric_dtype(values: npt.NDArray[Any]) -> bool:
    """Whether an array holds numbers (bool counts: Evidently treats it as numeric data)."""
    return values.dtype.kind in "biuf"


def _finite_sorted(values: npt.NDArray[Any]) -> tuple[FloatArray, int]:
    """Finite values as a sorted float64 copy, and how many were NaN or infinite."""
    numbers = np.array(values, dtype=np.float64)
    finite = np.isfinite(numbers)
    if not finite.all():
        numbers = numbers[finite]
    numbers.sort()
    return numbers, int(values.size - numbers.size)


def _distinct_sorted(sorted_values: FloatArray) -> FloatArray:
    keep = np.empty(sorted_values.size, dtype=bool)
    keep[:1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=keep[1:])
    return sorted_values[keep]


def _distinct_count(sorted_values: FloatArray) -> int:
    return int(np.count_nonzero(sorted_values[1:] != sorted_values[:-1])) + 1


def _union_distinct(ref: FloatArray, cur: FloatArray, limit: int) -> int:
    """Distinct values of both sides together, exact up to ``limit`` (else ``limit + 1``)."""
    if _distinct_count(ref) > limit or _distinct_count(cur) > limit:
        return limit + 1
    return int(np.union1d(_distinct_sorted(ref), _distinct_sorted(cur)).size)


def _value_counts_sorted(ref: FloatArray, cur: FloatArray) -> tuple[FloatArray, Counts, Counts]:
    keys = np.union1d(_distinct_sorted(ref), _distinct_sorted(cur))

    def counts(side: FloatArray) -> Counts:
        right = np.searchsorted(side, keys, side="right")
        return (right - np.searchsorted(side, keys, side="left")).astype(np.int64)

    return keys, counts(ref), counts(cur)


def _numeric_bins(ref: FloatArray, cur: FloatArray) -> tuple[Counts, Counts]:
    """Evidently's ``get_binned_data`` for numeric columns, on sorted arrays."""
    if _distinct_count(ref) > VALUE_BINS_LIMIT:
        low, high = min(ref[0], cur[0]), max(ref[-1], cur[-1])
        edges = sturges_edges(float(low), float(high), ref.size + cur.size)
        return histogram_counts_sorted(ref, edges), histogram_counts_sorted(cur, edges)
    _, ref_counts, cur_counts = _value_counts_sorted(ref, cur)
    return ref_counts, cur_counts


def _count_test(test: StatTest, ref_counts: Counts, cur_counts: Counts) -> TestResult | float:
    """Run a count-based test: a ``TestResult`` for tests, a float for distances."""
    if test.name == "chisquare":
        return chi2_from_counts(ref_counts, cur_counts)
    if test.name == "z":
        # Evidently: the first category (sorted) against all others.
        return z_test_proportions(
            int(ref_counts.sum() - ref_counts[0]),
            int(ref_counts.sum()),
            int(cur_counts.sum() - cur_counts[0]),
            int(cur_counts.sum()),
        )
    distances = {
        "jensenshannon": jensen_shannon_from_counts,
        "psi": psi_from_counts,
        "hellinger": hellinger_from_counts,
        "linf": linf_from_counts,
    }
    return float(distances[test.name](ref_counts, cur_counts))


def _result(
    task: ColumnTask, test: StatTest, outcome: TestResult | float, sizes: Sizes
) -> ColumnDrift:
    threshold = test.default_threshold if task.threshold is None else task.threshold
    if isinstance(outcome, TestResult):
        statistic, p_value, score = outcome.statistic, outcome.p_value, outcome.p_value
    else:
        statistic, p_value, score = outcome, None, outcome
    return ColumnDrift(
        task.name,
        task.kind,
        test.name,
        statistic,
        p_value,
        score,
        threshold,
        test.is_drift(score, threshold),
        *sizes,
    )


def skipped(task: ColumnTask | str, reason: str, sizes: Sizes = (0, 0, 0, 0)) -> ColumnDrift:
    """A result without a decision: ``drifted`` None and the reason."""
    name, kind = (task, None) if isinstance(task, str) else (task.name, task.kind)
    return ColumnDrift(name, kind, None, None, None, None, None, None, *sizes, reason=reason)


def _unusable(task: ColumnTask, ref_rows: int, cur_rows: int, sizes: Sizes) -> ColumnDrift | None:
    if cur_rows == 0:
        reason = f"column {task.name!r} has no usable (finite, non-missing) values in current"
        return skipped(task, reason, sizes)
    if ref_rows < 2:
        reason = (
            f"column {task.name!r} has {ref_rows} usable value(s) in reference; "
            "a drift test needs at least 2"
        )
        return skipped(task, reason, sizes)
    return None


def numeric_drift(
    task: ColumnTask, reference: npt.NDArray[Any], current: npt.NDArray[Any]
) -> ColumnDrift:
    """Drift of a numeric column (``reference`` is numeric; ``current`` is checked)."""
    if not is_numeric_dtype(current):
        reason = (
            f"column {task.name!r} changed type: numeric in reference, {current.dtype} in "
            "current; fix the producer or declare the column categorical"
        )
        return skipped(task, reason, (0, 0, 0, int(current.size)))
    ref, ref_missing = _finite_sorted(reference)
    cur, cur_missing = _finite_sorted(current)
    sizes = (ref.size, cur.size, ref_missing, cur_missing)
    unusable = _unusable(task, ref.size, cur.size, sizes)
    if unusable is not None:
        return unusable
    if task.stattest is None:
        test = default_stattest("numeric", ref.size, _union_distinct(ref, cur, FEW_VALUES))
    else:
        test = get_stattest(task.stattest, "numeric", task.name)
    if test.name == "ks":
        outcome: TestResult | float = ks_2samp_sorted(ref, cur)
    elif test.name == "wasserstein":
        outcome = normalized_wasserstein_sorted(ref, cur)
    elif test.name in {"chisquare", "z"}:  # automatic choice for few distinct values
        _, ref_counts, cur_counts = _value_counts_sorted(ref, cur)
        outcome = _count_test(test, ref_counts, cur_counts)
    else:
        outcome = _count_test(test, *_numeric_bins(ref, cur))
    return _result(task, test, outcome, sizes)


def _sorted_category_counts(reference: Any, current: Any) -> CategoryCounts:
    """Category counts with categories in sorted order (Evidently's Z-test takes the first)."""
    counts = category_counts(reference, current)
    try:
        order = np.argsort(np.asarray(counts.categories))
    except TypeError:  # mixed types: order by text
        order = np.argsort(np.asarray([str(c) for c in counts.categories]))
    return counts._replace(reference=counts.reference[order], current=counts.current[order])


def categorical_drift(task: ColumnTask, reference: Any, current: Any) -> ColumnDrift:
    """Drift of a categorical column (any hashable values; NumPy or pandas arrays)."""
    numeric = pd.api.types.is_numeric_dtype
    if numeric(reference.dtype) != numeric(current.dtype) and len(current):
        reason = (
            f"column {task.name!r} changed type: {reference.dtype} in reference, "
            f"{current.dtype} in current; fix the producer or cast both to one type"
        )
        return skipped(task, reason, (0, 0, 0, len(current)))
    counts = _sorted_category_counts(reference, current)
    ref_rows, cur_rows = int(counts.reference.sum()), int(counts.current.sum())
    sizes = (ref_rows, cur_rows, counts.reference_missing, counts.current_missing)
    unusable = _unusable(task, ref_rows, cur_rows, sizes)
    if unusable is not None:
        return unusable
    if task.stattest is None:
        test = default_stattest("categorical", ref_rows, len(counts.categories))
    else:
        test = get_stattest(task.stattest, "categorical", task.name)
    return _result(task, test, _count_test(test, counts.reference, counts.current), sizes)
