"""CBPE: estimate a binary classifier's performance on unlabeled data from its probabilities."""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.isotonic import IsotonicRegression

from conveyor.errors import ConflictError, InvalidArgumentError
from conveyor.monitoring.performance import calibration
from conveyor.monitoring.performance._inputs import (
    FloatArray,
    IntArray,
    as_binary_labels,
    as_probabilities,
    check_same_length,
)
from conveyor.monitoring.performance.binary_metrics import BINARY_METRICS, Labeled, Unlabeled
from conveyor.monitoring.performance.estimates import (
    Chunk,
    ConfidenceEstimator,
    EstimatedMetric,
    Thresholds,
    estimated,
    split_chunks,
)
from conveyor.monitoring.performance.sampling_error import SamplingError

CONFUSION_CELLS = ("true_positive", "false_positive", "false_negative", "true_negative")
# Stratified 90/10 splits need two rows of each class in every test fold.
MIN_REFERENCE_ROWS = 20
MIN_ROWS_PER_CLASS = 2


def _read(
    y_pred_proba: ArrayLike, y_pred: ArrayLike, y_true: ArrayLike | None, *, min_rows: int
) -> tuple[FloatArray, IntArray, IntArray | None]:
    """Validate one data set's scores, predictions and (optional) labels."""
    score = as_probabilities(y_pred_proba, field="y_pred_proba", min_rows=min_rows)
    pred = as_binary_labels(y_pred, field="y_pred", min_rows=min_rows)
    arrays: dict[str, NDArray[np.generic]] = {"y_pred_proba": score, "y_pred": pred}
    truth = None
    if y_true is not None:
        truth = as_binary_labels(y_true, field="y_true", min_rows=min_rows)
        arrays["y_true"] = truth
    check_same_length(arrays)
    return score, pred, truth


class CBPE(ConfidenceEstimator):
    """Confidence-Based Performance Estimation for binary classifiers (NannyML's method).

    ``fit`` learns, on a labeled reference, whether the model's probabilities need calibrating
    (and an isotonic calibrator when they do), each metric's sampling error, and alert
    thresholds from the metric's realized values on the reference chunks. ``estimate`` then
    computes, per chunk of unlabeled data, the metric's expected value under the calibrated
    probabilities (see :mod:`~conveyor.monitoring.performance.expected`) with a ± 3 standard
    error band. The estimate is unbiased as long as the calibration learned on the reference
    holds (covariate shift, no concept drift).

    Metrics: ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc`` and the confusion
    matrix, by cell (``true_positive``, ``false_positive``, ``false_negative``,
    ``true_negative``) or all four as ``confusion_matrix`` (expected counts).

    Args:
        metrics: metric names to estimate.
        chunk_size: rows per chunk; None estimates each data set as one chunk.
        calibration: ``"auto"`` calibrates when it lowers the reference's expected calibration
            error (NannyML's rule), ``"isotonic"`` always, ``"none"`` never.

    References:
        NannyML, "Confidence-based Performance Estimation (CBPE)", https://nannyml.readthedocs.io
        /en/stable/how_it_works/performance_estimation.html; source
        ``nannyml/performance_estimation/confidence_based`` (v0.13).
    """

    def _metric_names(self) -> list[str]:
        names: list[str] = []
        for name in self.metrics:
            expanded = CONFUSION_CELLS if name == "confusion_matrix" else (name,)
            for metric in expanded:
                if metric not in BINARY_METRICS:
                    known = ", ".join(sorted([*BINARY_METRICS, "confusion_matrix"]))
                    msg = f"metrics: unknown metric {metric!r}; choose from {known}"
                    raise InvalidArgumentError(msg, field="metrics")
                if metric not in names:
                    names.append(metric)
        if not names:
            msg = "metrics: is empty; name at least one metric, e.g. ('accuracy',)"
            raise InvalidArgumentError(msg, field="metrics")
        return names

    def fit(self, *, y_true: ArrayLike, y_pred_proba: ArrayLike, y_pred: ArrayLike) -> Self:
        """Learn calibration, sampling errors and alert thresholds from a labeled reference.

        Args:
            y_true: reference labels, 0 or 1.
            y_pred_proba: the model's probability of class 1 on the reference.
            y_pred: the model's predicted labels on the reference, 0 or 1.

        Returns:
            The fitted estimator.

        Raises:
            InvalidArgumentError: a field is malformed, NaN/inf, of another length, or the
                reference is too small or holds one class only.
        """
        names = self._metric_names()
        split_chunks(0, self.chunk_size)  # validates chunk_size before any work
        if self.calibration not in ("auto", "isotonic", "none"):
            msg = f"calibration: expected 'auto', 'isotonic' or 'none', got {self.calibration!r}"
            raise InvalidArgumentError(msg, field="calibration")
        score, pred, truth = _read(y_pred_proba, y_pred, y_true, min_rows=MIN_REFERENCE_ROWS)
        reference = Labeled(_check_both_classes(truth), pred, score)
        self.calibrator_ = self._fit_calibrator(reference.y_true, reference.score)
        self.sampling_errors_: dict[str, SamplingError] = {
            name: BINARY_METRICS[name].sampling_error(reference) for name in names
        }
        self.thresholds_ = {name: self._thresholds(name, reference) for name in names}
        self.metric_names_ = names
        return self

    def _fit_calibrator(self, y_true: IntArray, score: FloatArray) -> IsotonicRegression | None:
        needed = self.calibration == "isotonic" or (
            self.calibration == "auto" and calibration.needs_calibration(y_true, score)
        )
        self.needs_calibration_ = needed
        if not needed:
            return None
        return calibration.isotonic_calibrator().fit(score, y_true)

    def _thresholds(self, name: str, reference: Labeled) -> Thresholds:
        metric = BINARY_METRICS[name]
        realized = [
            metric.realized(_labeled_rows(reference, chunk))
            for chunk in split_chunks(len(reference.y_true), self.chunk_size)
        ]
        return Thresholds.from_reference(realized, lower_limit=0.0, upper_limit=metric.upper_limit)

    def calibrate(self, y_pred_proba: ArrayLike) -> FloatArray:
        """Return the calibrated probabilities (unchanged when calibration was not needed)."""
        score = as_probabilities(y_pred_proba, field="y_pred_proba", min_rows=0)
        calibrator = self._fitted().calibrator_
        if calibrator is None:
            return score
        return np.asarray(calibrator.predict(score), dtype=np.float64)

    def _fitted(self) -> Self:
        if not hasattr(self, "metric_names_"):
            msg = "CBPE is not fitted; call fit(y_true=..., y_pred_proba=..., y_pred=...) first"
            raise ConflictError(msg)
        return self

    def estimate(
        self, *, y_pred_proba: ArrayLike, y_pred: ArrayLike, y_true: ArrayLike | None = None
    ) -> list[EstimatedMetric]:
        """Estimate every metric on every chunk of the data, in chunk then metric order.

        Args:
            y_pred_proba: the model's probability of class 1.
            y_pred: the model's predicted labels, 0 or 1.
            y_true: labels, when some have arrived: each record then carries the realized value.

        Returns:
            One record per chunk and metric.

        Raises:
            InvalidArgumentError: a field is empty, malformed, NaN/inf or of another length.
            ConflictError: the estimator is not fitted.
        """
        self._fitted()
        score, pred, truth = _read(y_pred_proba, y_pred, y_true, min_rows=1)
        data = Unlabeled(pred, score, self.calibrate(score))
        labeled = None if truth is None else Labeled(truth, pred, score)
        return [
            self._record(chunk, name, data, labeled)
            for chunk in split_chunks(len(score), self.chunk_size)
            for name in self.metric_names_
        ]

    def _record(
        self, chunk: Chunk, name: str, data: Unlabeled, labeled: Labeled | None
    ) -> EstimatedMetric:
        metric = BINARY_METRICS[name]
        rows = slice(chunk.start, chunk.stop)
        value = metric.estimate(
            Unlabeled(data.y_pred[rows], data.score[rows], data.probability[rows])
        )
        return estimated(
            chunk,
            name,
            value,
            self.sampling_errors_[name].standard_error(chunk.size),
            self.thresholds_[name],
            limits=(0.0, metric.upper_limit),
            realized=None if labeled is None else metric.realized(_labeled_rows(labeled, chunk)),
        )


def _labeled_rows(data: Labeled, chunk: Chunk) -> Labeled:
    rows = slice(chunk.start, chunk.stop)
    return Labeled(data.y_true[rows], data.y_pred[rows], data.score[rows])


def _check_both_classes(truth: IntArray | None) -> IntArray:
    if truth is None:  # pragma: no cover - fit always passes y_true
        msg = "y_true: the reference needs labels"
        raise InvalidArgumentError(msg, field="y_true")
    counts = np.bincount(truth, minlength=2)
    if counts.min() < MIN_ROWS_PER_CLASS:
        msg = (
            f"y_true: the reference has {counts[0]} rows of class 0 and {counts[1]} of class 1; "
            f"CBPE needs at least {MIN_ROWS_PER_CLASS} of each to calibrate and bound estimates"
        )
        raise InvalidArgumentError(msg, field="y_true")
    return truth
