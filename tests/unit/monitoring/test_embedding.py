"""Embedding drift: MMD permutation test and domain classifier on vector columns."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.embedding import embedding_domain_classifier, mmd_test


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Run gradient boosting on one OpenMP thread: on a shared, busy machine it is ~10x faster."""
    with threadpool_limits(1):
        yield


def _embeddings(rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    vectors = rng.normal(size=(n, 32))
    vectors[:, :4] += shift  # drift confined to a few dimensions, as a topic change would be
    return vectors


def test_mmd_p_value_is_large_without_drift_and_small_with_it() -> None:
    rng = np.random.default_rng(0)
    reference = _embeddings(rng, 400)
    same = mmd_test(reference, _embeddings(rng, 400))
    assert same.p_value > 0.1
    assert not same.is_drift
    moved = mmd_test(reference, _embeddings(rng, 400, shift=0.5))
    assert moved.p_value < 0.01
    assert moved.is_drift
    assert moved.mmd2 > same.mmd2


def test_mmd_equals_the_direct_unbiased_formula() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 4)), rng.normal(0.3, size=(20, 4))
    result = mmd_test(x, y, permutations=10)
    h2 = result.bandwidth**2

    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * h2))

    kxx, kyy = k(x, x), k(y, y)
    direct = (kxx.sum() - 30) / (30 * 29) + (kyy.sum() - 20) / (20 * 19) - 2 * k(x, y).mean()
    assert result.mmd2 == pytest.approx(direct, rel=1e-9)
    pooled = np.vstack([x, y])
    distances = np.sqrt(((pooled[:, None] - pooled[None]) ** 2).sum(-1))
    assert result.bandwidth == pytest.approx(np.median(distances[np.triu_indices(50, k=1)]))


def test_mmd_subsamples_and_handles_identical_vectors() -> None:
    rng = np.random.default_rng(2)
    result = mmd_test(rng.normal(size=(900, 3)), rng.normal(size=(50, 3)), max_rows=100)
    assert (result.n_reference, result.n_current) == (100, 50)
    flat = mmd_test(np.ones((10, 3)), np.ones((10, 3)))
    assert (flat.mmd2, flat.p_value, flat.is_drift) == (0.0, 1.0, False)


def test_embedding_domain_classifier_detects_shift() -> None:
    rng = np.random.default_rng(3)
    reference = _embeddings(rng, 600)
    assert abs(embedding_domain_classifier(reference, _embeddings(rng, 600)).auc - 0.5) < 0.07
    assert embedding_domain_classifier(reference, _embeddings(rng, 600, shift=1.0)).auc > 0.8


def test_bad_input_is_rejected_with_the_field_named() -> None:
    rng = np.random.default_rng(4)
    reference = rng.normal(size=(20, 8))
    with pytest.raises(InvalidArgumentError, match="current: has 4 columns, the reference has 8"):
        mmd_test(reference, rng.normal(size=(20, 4)))
    with pytest.raises(InvalidArgumentError, match="reference: has 1 row; at least 2"):
        mmd_test(reference[:1], reference)
    broken = reference.copy()
    broken[3, 5] = np.inf
    with pytest.raises(
        InvalidArgumentError,
        match=r"current: 0 NaN and 1 infinite values \(first at row 3, column 5\)",
    ):
        mmd_test(reference, broken)
    with pytest.raises(InvalidArgumentError, match="current: expected a 2-D array"):
        mmd_test(reference, np.zeros((2, 2, 2)))
    with pytest.raises(InvalidArgumentError, match="permutations"):
        mmd_test(reference, reference, permutations=0)
