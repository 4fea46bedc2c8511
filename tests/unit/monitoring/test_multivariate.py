"""Multivariate drift: domain-classifier AUC and PCA reconstruction error."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from conveyor.errors import ConflictError, InvalidArgumentError
from conveyor.monitoring.multivariate import PCAReconstructionDrift, domain_classifier_auc

COVARIANCE = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 1.0]])


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Run gradient boosting on one OpenMP thread: on a shared, busy machine it is ~10x faster."""
    with threadpool_limits(1):
        yield


def _correlated(rng: np.random.Generator, n: int, flip: bool = False) -> np.ndarray:
    covariance = COVARIANCE.copy()
    if flip:  # same marginals, the correlation of x0 and x1 reversed
        covariance[0, 1] = covariance[1, 0] = -0.9
    return rng.multivariate_normal(np.zeros(3), covariance, size=n)


def test_domain_classifier_auc_is_half_without_drift_and_high_with_it() -> None:
    rng = np.random.default_rng(0)
    reference = _correlated(rng, 1000)
    same = domain_classifier_auc(reference, _correlated(rng, 1000))
    assert abs(same.auc - 0.5) < 0.06
    assert not same.is_drift
    moved = domain_classifier_auc(reference, _correlated(rng, 1000, flip=True))
    assert moved.auc > 0.8
    assert moved.is_drift


def test_domain_classifier_subsamples_to_max_rows() -> None:
    rng = np.random.default_rng(1)
    result = domain_classifier_auc(
        rng.normal(size=(500, 2)), rng.normal(size=(300, 2)), max_rows=100
    )
    assert (result.n_reference, result.n_current) == (100, 100)


def test_pca_error_within_band_without_drift_and_outside_with_it() -> None:
    rng = np.random.default_rng(2)
    detector = PCAReconstructionDrift(chunk_size=500).fit(_correlated(rng, 5000))
    # Eigenvalues 1.9, 1.0, 0.1: the first explains 63 % < 65 %, so two are kept and only the
    # x0 - x1 direction is dropped, the one that the flipped correlation fills.
    assert detector.pca_.n_components_ == 2
    quiet = detector.evaluate(_correlated(rng, 1500))
    assert len(quiet) == 3
    assert not any(r.is_drift for r in quiet)
    drifted = detector.evaluate(_correlated(rng, 1500, flip=True))
    assert all(r.is_drift and r.error > r.upper_threshold for r in drifted)


def test_bad_input_is_rejected_with_the_field_named() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(100, 3))
    with pytest.raises(InvalidArgumentError, match="current: has 2 columns, the reference has 3"):
        domain_classifier_auc(reference, rng.normal(size=(100, 2)))
    with pytest.raises(InvalidArgumentError, match="current: has 1 row; at least 5"):
        domain_classifier_auc(reference, rng.normal(size=(1, 3)))
    with pytest.raises(InvalidArgumentError, match="reference: 1 NaN"):
        domain_classifier_auc(
            np.where(np.arange(300).reshape(100, 3) == 4, np.nan, reference), reference
        )
    with pytest.raises(InvalidArgumentError, match="reference: has 100 rows; at least 120"):
        PCAReconstructionDrift(chunk_size=60).fit(reference)
    with pytest.raises(InvalidArgumentError, match="variance"):
        PCAReconstructionDrift(chunk_size=10, variance=1.5).fit(reference)
    with pytest.raises(ConflictError, match="not fitted"):
        PCAReconstructionDrift(chunk_size=10).evaluate(reference)
    detector = PCAReconstructionDrift(chunk_size=10).fit(reference)
    with pytest.raises(InvalidArgumentError, match="current: is empty"):
        detector.evaluate(np.zeros((0, 3)))
    with pytest.raises(InvalidArgumentError, match="current: has 4 columns"):
        detector.evaluate(np.zeros((5, 4)))
