"""Multivariate drift: a domain classifier's AUC and PCA reconstruction error.

Univariate tests miss a change in how features move together (a correlation flips while every
marginal stays put). Both detectors here look at all columns at once:

* :func:`domain_classifier_auc` trains a classifier to tell reference rows from current rows;
  its cross-validated ROC AUC is 0.5 when the two cannot be told apart and tends to 1 as they
  drift apart.
* :class:`PCAReconstructionDrift` learns the reference's principal components; rows drawn from
  another joint distribution are reconstructed worse, so the mean reconstruction error rises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler

from conveyor.errors import ConflictError, InvalidArgumentError
from conveyor.monitoring.performance import Chunk, split_chunks
from conveyor.monitoring.performance._inputs import (
    FloatArray,
    as_float_matrix,
    check_positive_int,
)

# NannyML's defaults: ConstantThreshold(upper=0.65) for the domain classifier, 65 % of the
# variance kept by the PCA, and thresholds at the reference chunks' mean ± 3 standard deviations.
DOMAIN_CLASSIFIER_THRESHOLD = 0.65
PCA_VARIANCE = 0.65
THRESHOLD_STDS = 3.0


def read_pair(
    reference: ArrayLike, current: ArrayLike, *, min_rows: int
) -> tuple[FloatArray, FloatArray]:
    """Validate two numeric matrices with the same columns (rows x columns)."""
    ref = as_float_matrix(reference, field="reference", min_rows=min_rows)
    cur = as_float_matrix(current, field="current", min_rows=min_rows)
    if ref.shape[1] != cur.shape[1]:
        msg = (
            f"current: has {cur.shape[1]} columns, the reference has {ref.shape[1]}; "
            "pass the same columns in the same order"
        )
        raise InvalidArgumentError(msg, field="current")
    return ref, cur


def subsample(rows: FloatArray, max_rows: int, rng: np.random.Generator) -> FloatArray:
    """Return at most ``max_rows`` rows drawn without replacement (all rows when fewer)."""
    if len(rows) <= max_rows:
        return rows
    return rows[rng.choice(len(rows), size=max_rows, replace=False)]


@dataclass(frozen=True)
class DomainClassifierResult:
    """Cross-validated AUC of a reference-vs-current classifier."""

    auc: float
    threshold: float
    is_drift: bool
    n_reference: int
    n_current: int


def domain_classifier_auc(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    folds: int = 5,
    max_rows: int = 10_000,
    threshold: float = DOMAIN_CLASSIFIER_THRESHOLD,
    random_state: int = 0,
) -> DomainClassifierResult:
    """Return the out-of-fold ROC AUC of a classifier telling current rows from reference rows.

    Rows are labeled 0 (reference) or 1 (current), each side subsampled to ``max_rows``; a
    gradient-boosted classifier (scikit-learn's ``HistGradientBoostingClassifier``, where
    NannyML's ``DomainClassifierCalculator`` uses LightGBM) is trained in ``folds``-fold
    stratified cross-validation and the AUC is computed on the pooled out-of-fold
    probabilities. 0.5 means the samples are indistinguishable; drift is flagged above
    ``threshold`` (NannyML's default 0.65).

    Args:
        reference: reference rows, numeric, rows x columns.
        current: current rows, same columns.
        folds: cross-validation folds.
        max_rows: rows kept per side, drawn at random (bounds the cost).
        threshold: AUC above which drift is flagged.
        random_state: seed of the subsampling, the folds and the classifier.

    Returns:
        The AUC, the threshold and the decision.

    Raises:
        InvalidArgumentError: either side is malformed, holds NaN/inf, has fewer rows than
            ``folds`` or other columns than the other.

    References:
        Lipton, Wang & Smola (2018), "Detecting and Correcting for Label Shift with Black Box
        Predictors"; Rabanser, Günnemann & Lipton (2019), "Failing Loudly: An Empirical Study
        of Methods for Detecting Dataset Shift" (domain classifier).
    """
    check_positive_int(folds, field="folds", minimum=2)
    check_positive_int(max_rows, field="max_rows", minimum=folds)
    ref, cur = read_pair(reference, current, min_rows=folds)
    rng = np.random.default_rng(random_state)
    ref, cur = subsample(ref, max_rows, rng), subsample(cur, max_rows, rng)
    rows = np.vstack([ref, cur])
    labels = np.r_[np.zeros(len(ref), dtype=np.int64), np.ones(len(cur), dtype=np.int64)]
    classifier = HistGradientBoostingClassifier(early_stopping=False, random_state=random_state)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    scores = cross_val_predict(classifier, rows, labels, cv=splitter, method="predict_proba")
    auc = float(roc_auc_score(labels, scores[:, 1]))
    return DomainClassifierResult(auc, threshold, auc > threshold, len(ref), len(cur))


@dataclass(frozen=True)
class ReconstructionResult:
    """Mean PCA reconstruction error of one chunk, with NannyML's band and thresholds."""

    chunk: Chunk
    error: float
    sampling_error: float
    lower_threshold: float
    upper_threshold: float
    is_drift: bool


class PCAReconstructionDrift:
    """Multivariate drift as the rise of PCA reconstruction error (NannyML's data reconstruction).

    ``fit`` standardises the reference columns, keeps the principal components that explain
    ``variance`` of the variance (65 %, NannyML's default), and measures the reconstruction
    error on each reference chunk: for a row ``x`` (standardised),
    ``e(x) = ||x - W Wᵀ (x - μ) - μ||₂`` and a chunk's error is the mean of ``e`` over its
    rows. The thresholds are the reference chunks' mean error ± 3 standard deviations;
    ``evaluate`` flags a current chunk whose error leaves them.

    Args:
        chunk_size: rows per chunk, reference and current alike; the reference needs at least
            two chunks.
        variance: share of the variance the kept components explain, in (0, 1).
        random_state: seed of the PCA solver.

    References:
        NannyML, "Data Reconstruction with PCA", https://nannyml.readthedocs.io/en/stable/
        how_it_works/multivariate_drift.html; source
        ``nannyml/drift/multivariate/data_reconstruction/calculator.py`` (v0.13).
    """

    def __init__(
        self, *, chunk_size: int, variance: float = PCA_VARIANCE, random_state: int = 16
    ) -> None:
        self.chunk_size = chunk_size
        self.variance = variance
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        """Return the configuration given to ``__init__``."""
        return {
            "chunk_size": self.chunk_size,
            "variance": self.variance,
            "random_state": self.random_state,
        }

    def fit(self, reference: ArrayLike) -> Self:
        """Learn the scaler, the components and the thresholds from the reference rows."""
        check_positive_int(self.chunk_size, field="chunk_size")
        if not 0 < self.variance < 1:
            msg = f"variance: expected a share of variance in (0, 1), got {self.variance!r}"
            raise InvalidArgumentError(msg, field="variance")
        rows = as_float_matrix(reference, field="reference", min_rows=2 * self.chunk_size)
        self.scaler_ = StandardScaler().fit(rows)
        scaled = self.scaler_.transform(rows)
        self.pca_ = PCA(
            n_components=self.variance, svd_solver="full", random_state=self.random_state
        )
        self.pca_.fit(scaled)
        errors = self._row_errors(rows)
        means = np.array([errors[c.start : c.stop].mean() for c in self._chunks(len(rows))])
        center, spread = float(means.mean()), float(means.std())
        self.lower_threshold_ = max(center - THRESHOLD_STDS * spread, 0.0)
        self.upper_threshold_ = center + THRESHOLD_STDS * spread
        self.n_columns_ = rows.shape[1]
        return self

    def _chunks(self, n_rows: int) -> list[Chunk]:
        return split_chunks(n_rows, self.chunk_size)

    def _row_errors(self, rows: FloatArray) -> FloatArray:
        scaled = self.scaler_.transform(rows)
        rebuilt = self.pca_.inverse_transform(self.pca_.transform(scaled))
        errors: FloatArray = np.linalg.norm(scaled - rebuilt, axis=1)
        return errors

    def evaluate(self, current: ArrayLike) -> list[ReconstructionResult]:
        """Return the reconstruction error of every chunk of ``current`` and its decision.

        Raises:
            InvalidArgumentError: ``current`` is empty, holds NaN/inf or has other columns.
            ConflictError: the detector is not fitted.
        """
        if not hasattr(self, "pca_"):
            msg = "PCAReconstructionDrift is not fitted; call fit(reference) first"
            raise ConflictError(msg)
        rows = as_float_matrix(current, field="current")
        if rows.shape[1] != self.n_columns_:
            msg = (
                f"current: has {rows.shape[1]} columns, the reference had {self.n_columns_}; "
                "pass the same columns in the same order"
            )
            raise InvalidArgumentError(msg, field="current")
        errors = self._row_errors(rows)
        return [
            self._result(chunk, errors[chunk.start : chunk.stop])
            for chunk in self._chunks(len(rows))
        ]

    def _result(self, chunk: Chunk, errors: FloatArray) -> ReconstructionResult:
        error = float(errors.mean())
        # NannyML's sampling error uses the sample std (ddof=1); one row has none.
        spread = float(errors.std(ddof=1)) if len(errors) > 1 else 0.0
        return ReconstructionResult(
            chunk=chunk,
            error=error,
            sampling_error=spread / np.sqrt(len(errors)),
            lower_threshold=self.lower_threshold_,
            upper_threshold=self.upper_threshold_,
            is_drift=not self.lower_threshold_ < error < self.upper_threshold_,
        )
