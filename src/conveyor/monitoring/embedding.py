"""Embedding drift for vector columns: an MMD permutation test and a domain classifier.

An embedding column holds one vector per row (a 2-D array, rows x dimensions). Per-dimension
tests are meaningless there, so both detectors compare the two clouds of vectors as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from conveyor.monitoring.multivariate import (
    DomainClassifierResult,
    domain_classifier_auc,
    read_pair,
    subsample,
)
from conveyor.monitoring.performance._inputs import FloatArray, check_positive_int

MAX_ROWS = 500
PERMUTATIONS = 200
ALPHA = 0.05


@dataclass(frozen=True)
class MMDResult:
    """Outcome of an MMD two-sample permutation test."""

    mmd2: float
    p_value: float
    bandwidth: float
    is_drift: bool
    n_reference: int
    n_current: int


def _squared_distances(rows: FloatArray) -> FloatArray:
    norms = np.einsum("ij,ij->i", rows, rows)
    squared = norms[:, None] + norms[None, :] - 2.0 * (rows @ rows.T)
    np.fill_diagonal(squared, 0.0)
    clipped: FloatArray = np.maximum(squared, 0.0)  # rounding can dip just below zero
    return clipped


def median_bandwidth(squared_distances: FloatArray) -> float:
    """Return the median heuristic: the median distance between distinct pooled rows.

    Gretton et al. (2012) set the RBF width to the median pairwise distance; 0 when every row is
    the same point (no distance to take a median of).
    """
    upper = squared_distances[np.triu_indices_from(squared_distances, k=1)]
    positive = upper[upper > 0]
    return float(np.sqrt(np.median(positive))) if len(positive) else 0.0


def _unbiased_mmd2(kernel: FloatArray, is_reference: FloatArray, n: int, m: int) -> FloatArray:
    """Return MMD²_u for each column of ``is_reference`` (a 0/1 split of the pooled rows)."""
    weighted = kernel @ is_reference
    within_ref = np.einsum("ij,ij->j", is_reference, weighted)
    cross = np.einsum("ij,ij->j", 1.0 - is_reference, weighted)
    within_cur = kernel.sum() - within_ref - 2.0 * cross
    # The RBF kernel's diagonal is 1: removing it leaves the i != j sums of the U-statistic.
    result: FloatArray = (
        (within_ref - n) / (n * (n - 1)) + (within_cur - m) / (m * (m - 1)) - 2.0 * cross / (n * m)
    )
    return result


def mmd_test(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    max_rows: int = MAX_ROWS,
    permutations: int = PERMUTATIONS,
    alpha: float = ALPHA,
    random_state: int = 0,
) -> MMDResult:
    """Test whether two sets of vectors come from one distribution, by MMD with an RBF kernel.

    The unbiased estimate of the squared maximum mean discrepancy (Gretton et al. 2012, eq. 3)
    ``MMD²_u = Σ_{i≠j} k(x_i, x_j) / n(n-1) + Σ_{i≠j} k(y_i, y_j) / m(m-1)
    - 2 Σ_{i,j} k(x_i, y_j) / nm`` with ``k(a, b) = exp(-||a - b||² / 2 h²)``, the bandwidth
    ``h`` the median pairwise distance of the pooled sample. The p-value is that of a
    permutation test: the share of ``permutations`` random re-splits of the pooled rows whose
    MMD²_u is at least the observed one, ``(1 + #{≥}) / (1 + permutations)``. Each side is
    subsampled to ``max_rows`` so the kernel matrix, and the cost, stay bounded
    (``(2 x max_rows)²`` floats).

    Args:
        reference: reference vectors, rows x dimensions.
        current: current vectors, same dimensions.
        max_rows: rows kept per side, drawn at random.
        permutations: permutations of the test.
        alpha: drift is flagged when the p-value is below it.
        random_state: seed of the subsampling and the permutations.

    Returns:
        MMD²_u, the p-value, the bandwidth and the decision.

    Raises:
        InvalidArgumentError: either side is malformed, holds NaN/inf, has fewer than two rows,
            or another dimension than the other.

    References:
        Gretton, Borgwardt, Rasch, Schölkopf & Smola (2012), "A Kernel Two-Sample Test", JMLR
        13, 723-773.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> same = mmd_test(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)))
        >>> same.is_drift
        False
        >>> moved = mmd_test(rng.normal(size=(200, 8)), rng.normal(0.5, size=(200, 8)))
        >>> moved.is_drift, moved.p_value < 0.01
        (True, True)
    """
    check_positive_int(max_rows, field="max_rows", minimum=2)
    check_positive_int(permutations, field="permutations")
    ref, cur = read_pair(reference, current, min_rows=2)
    rng = np.random.default_rng(random_state)
    ref, cur = subsample(ref, max_rows, rng), subsample(cur, max_rows, rng)
    n, m = len(ref), len(cur)
    squared = _squared_distances(np.vstack([ref, cur]))
    bandwidth = median_bandwidth(squared)
    if bandwidth == 0:  # every vector identical: nothing to tell apart
        return MMDResult(0.0, 1.0, 0.0, False, n, m)
    kernel = np.exp(-squared / (2.0 * bandwidth**2))
    observed = np.r_[np.ones(n), np.zeros(m)]
    shuffled = np.argsort(rng.random((n + m, permutations)), axis=0) < n
    splits = np.column_stack([observed, shuffled.astype(np.float64)])
    statistics = _unbiased_mmd2(kernel, splits, n, m)
    exceed = int((statistics[1:] >= statistics[0]).sum())
    p_value = (1 + exceed) / (1 + permutations)
    return MMDResult(float(statistics[0]), p_value, bandwidth, p_value < alpha, n, m)


def embedding_domain_classifier(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    folds: int = 5,
    max_rows: int = 10_000,
    random_state: int = 0,
) -> DomainClassifierResult:
    """Return the cross-validated AUC of a classifier telling current vectors from reference.

    The same detector as :func:`conveyor.monitoring.multivariate.domain_classifier_auc`, each
    dimension of the embedding a feature. 0.5 means no drift.
    """
    return domain_classifier_auc(
        reference, current, folds=folds, max_rows=max_rows, random_state=random_state
    )
