"""CBPE for multiclass classifiers: one-vs-rest calibration and macro-averaged estimates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np
from numpy.typing import ArrayLike
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from conveyor.errors import ConflictError, InvalidArgumentError
from conveyor.monitoring.performance import calibration, sampling_error
from conveyor.monitoring.performance._inputs import (
    FloatArray,
    IntArray,
    as_float_matrix,
    check_same_length,
)
from conveyor.monitoring.performance.estimates import (
    Chunk,
    ConfidenceEstimator,
    EstimatedMetric,
    Thresholds,
    estimated,
    split_chunks,
)
from conveyor.monitoring.performance.expected import ExpectedConfusion, expected_roc_auc
from conveyor.monitoring.performance.realized import Label, as_labels

MIN_ROWS_PER_CLASS = 2
ErrorModel = sampling_error.SamplingError | sampling_error.MacroSamplingError


@dataclass(frozen=True)
class _Rows:
    """Class indices and probabilities of some rows; ``y_true`` is None when unlabeled."""

    y_pred: IntArray
    score: FloatArray  # the model's probabilities, rows x classes
    probability: FloatArray  # calibrated, rows x classes
    y_true: IntArray | None

    def __getitem__(self, rows: slice) -> _Rows:
        truth = None if self.y_true is None else self.y_true[rows]
        return _Rows(self.y_pred[rows], self.score[rows], self.probability[rows], truth)

    def one_vs_rest(self, c: int) -> ExpectedConfusion:
        return ExpectedConfusion.of((self.y_pred == c).astype(np.int64), self.probability[:, c])


def _macro(per_class: Callable[[ExpectedConfusion], float]) -> Callable[[_Rows], float | None]:
    def estimate(rows: _Rows) -> float:
        k = rows.score.shape[1]
        return float(np.mean([per_class(rows.one_vs_rest(c)) for c in range(k)]))

    return estimate


def _estimate_roc_auc(rows: _Rows) -> float | None:
    per_class = [
        expected_roc_auc(rows.probability[:, c], rows.score[:, c])
        for c in range(rows.score.shape[1])
    ]
    defined = [v for v in per_class if v is not None]
    return float(np.mean(defined)) if len(defined) == len(per_class) else None


def _estimate_accuracy(rows: _Rows) -> float:
    return float(rows.probability[np.arange(len(rows.y_pred)), rows.y_pred].mean())


ESTIMATORS: dict[str, Callable[[_Rows], float | None]] = {
    "accuracy": _estimate_accuracy,
    "precision": _macro(ExpectedConfusion.precision),
    "recall": _macro(ExpectedConfusion.recall),
    "f1": _macro(ExpectedConfusion.f1),
    "roc_auc": _estimate_roc_auc,
}


def _realized(name: str, truth: IntArray, rows: _Rows) -> float | None:
    """Return the realized macro metric, or None for ROC AUC when a class is absent."""
    k = rows.score.shape[1]
    labels = list(range(k))
    if name == "accuracy":
        return float(np.mean(truth == rows.y_pred))
    if name == "roc_auc":
        if len(np.unique(truth)) < k:
            return None
        return float(roc_auc_score(truth, rows.score, multi_class="ovr", labels=labels))
    score = {"precision": precision_score, "recall": recall_score, "f1": f1_score}[name]
    return float(score(truth, rows.y_pred, labels=labels, average="macro", zero_division=0.0))


def _class_error(
    name: str, truth: IntArray, pred: IntArray, score: FloatArray
) -> sampling_error.SamplingError:
    """Return one class's one-vs-rest sampling-error components (variance and row share)."""
    if name == "precision":
        return sampling_error.precision(truth, pred)
    if name == "recall":
        return sampling_error.recall(truth, pred)
    if name == "f1":
        return sampling_error.f1(truth, pred, corrected=False)
    return sampling_error.roc_auc(truth, score)


def _error_model(name: str, truth: IntArray, rows: _Rows) -> ErrorModel:
    """Return NannyML's multiclass sampling error of ``name`` from the reference rows."""
    if name == "accuracy":
        return sampling_error.accuracy(truth, rows.y_pred)
    per_class = [
        _class_error(
            name,
            (truth == c).astype(np.int64),
            (rows.y_pred == c).astype(np.int64),
            rows.score[:, c],
        )
        for c in range(rows.score.shape[1])
    ]
    return sampling_error.MacroSamplingError(tuple(per_class), 1.2 if name == "roc_auc" else 1.0)


class MulticlassCBPE(ConfidenceEstimator):
    """Confidence-Based Performance Estimation for multiclass classifiers (NannyML's method).

    Each class's probability column is calibrated one-vs-rest (isotonic regression where it
    lowers that class's expected calibration error), and the calibrated rows are renormalised to
    sum to 1 (uniform when a row calibrates to all zeros). Estimates: accuracy is the mean
    calibrated probability of the predicted class; precision, recall, F1 and ROC AUC are the
    macro averages of the one-vs-rest binary estimates of :class:`CBPE`. Sampling errors follow
    NannyML's multiclass formulas; bands are ± 3 standard errors.

    Args:
        metrics: any of ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc``.
        chunk_size: rows per chunk; None estimates each data set as one chunk.
        calibration: ``"auto"`` (NannyML's rule per class), ``"isotonic"`` or ``"none"``.

    References:
        NannyML, "Confidence-based Performance Estimation (CBPE)", multiclass; source
        ``nannyml/performance_estimation/confidence_based`` and
        ``nannyml/sampling_error/multiclass_classification.py`` (v0.13).
    """

    def fit(
        self,
        *,
        y_true: ArrayLike,
        y_pred_proba: ArrayLike,
        y_pred: ArrayLike,
        classes: Sequence[Label] | None = None,
    ) -> Self:
        """Learn per-class calibration, sampling errors and alert thresholds on a reference.

        Args:
            y_true: reference labels.
            y_pred_proba: the model's class probabilities, rows x classes.
            y_pred: the model's predicted labels.
            classes: the label of each probability column, in order (default 0..k-1).

        Returns:
            The fitted estimator.

        Raises:
            InvalidArgumentError: a field is malformed, NaN/inf, of another length, holds a
                label outside ``classes``, or a class has fewer than two reference rows.
        """
        for name in self.metrics:
            if name not in ESTIMATORS:
                msg = f"metrics: unknown metric {name!r}; choose from {', '.join(ESTIMATORS)}"
                raise InvalidArgumentError(msg, field="metrics")
        split_chunks(0, self.chunk_size)
        score = _read_scores(y_pred_proba, min_rows=MIN_ROWS_PER_CLASS * 10)
        self.classes_: list[Label] = (
            list(range(score.shape[1])) if classes is None else list(classes)
        )
        if len(self.classes_) != score.shape[1]:
            msg = f"classes: {len(self.classes_)} labels for {score.shape[1]} probability columns"
            raise InvalidArgumentError(msg, field="classes")
        truth = self._encode(y_true, "y_true")
        pred = self._encode(y_pred, "y_pred")
        check_same_length({"y_pred_proba": score, "y_pred": pred, "y_true": truth})
        counts = np.bincount(truth, minlength=len(self.classes_))
        if counts.min() < MIN_ROWS_PER_CLASS:
            rare = self.classes_[int(counts.argmin())]
            msg = f"y_true: class {rare!r} has {counts.min()} reference rows; CBPE needs at least 2"
            raise InvalidArgumentError(msg, field="y_true")
        self.calibrators_ = [
            self._calibrator((truth == c).astype(np.int64), score[:, c])
            for c in range(score.shape[1])
        ]
        reference = _Rows(pred, score, self._calibrated(score), truth)
        self.sampling_errors_ = {
            name: _error_model(name, truth, reference) for name in self.metrics
        }
        chunks = split_chunks(len(truth), self.chunk_size)
        self.thresholds_ = {
            name: Thresholds.from_reference(
                [
                    _realized(name, truth[c.start : c.stop], reference[c.start : c.stop])
                    for c in chunks
                ],
                lower_limit=0.0,
                upper_limit=1.0,
            )
            for name in self.metrics
        }
        return self

    def _encode(self, values: ArrayLike, field: str) -> IntArray:
        labels = as_labels(values, field=field)
        index = {label: i for i, label in enumerate(self.classes_)}
        unknown = sorted({v for v in labels.tolist() if v not in index}, key=str)
        if unknown:
            msg = f"{field}: labels {unknown[:5]} are not among classes {self.classes_}"
            raise InvalidArgumentError(msg, field=field)
        return np.array([index[v] for v in labels.tolist()], dtype=np.int64)

    def _calibrator(self, truth: IntArray, score: FloatArray) -> IsotonicRegression | None:
        needed = self.calibration == "isotonic" or (
            self.calibration == "auto" and calibration.needs_calibration(truth, score)
        )
        return calibration.isotonic_calibrator().fit(score, truth) if needed else None

    def calibrate(self, y_pred_proba: ArrayLike) -> FloatArray:
        """Return calibrated class probabilities, each row summing to 1."""
        if not hasattr(self, "calibrators_"):
            msg = "MulticlassCBPE is not fitted; call fit(y_true=..., y_pred_proba=..., ...) first"
            raise ConflictError(msg)
        score = _read_scores(y_pred_proba, min_rows=0)
        if score.shape[1] != len(self.classes_):
            msg = (
                f"y_pred_proba: has {score.shape[1]} columns, the reference had "
                f"{len(self.classes_)}; pass one probability column per class, in the same order"
            )
            raise InvalidArgumentError(msg, field="y_pred_proba")
        return self._calibrated(score) if len(score) else score

    def _calibrated(self, score: FloatArray) -> FloatArray:
        columns = [
            score[:, c] if cal is None else np.asarray(cal.predict(score[:, c]), dtype=np.float64)
            for c, cal in enumerate(self.calibrators_)
        ]
        raw = np.column_stack(columns)
        total = raw.sum(axis=1, keepdims=True)
        uniform = np.full_like(raw, 1.0 / raw.shape[1])
        calibrated: FloatArray = np.divide(raw, total, out=uniform, where=total > 0)
        return calibrated

    def estimate(
        self, *, y_pred_proba: ArrayLike, y_pred: ArrayLike, y_true: ArrayLike | None = None
    ) -> list[EstimatedMetric]:
        """Estimate every metric on every chunk, in chunk then metric order.

        Raises:
            InvalidArgumentError: a field is empty, malformed, NaN/inf, of another length or
                holds unknown labels.
            ConflictError: the estimator is not fitted.
        """
        score = _read_scores(y_pred_proba, min_rows=1)
        probability = self.calibrate(score)
        pred = self._encode(y_pred, "y_pred")
        truth = None if y_true is None else self._encode(y_true, "y_true")
        arrays = {"y_pred_proba": score, "y_pred": pred} | (
            {} if truth is None else {"y_true": truth}
        )
        check_same_length(arrays)
        data = _Rows(pred, score, probability, truth)
        return [
            self._record(chunk, name, data[chunk.start : chunk.stop])
            for chunk in split_chunks(len(pred), self.chunk_size)
            for name in self.metrics
        ]

    def _record(self, chunk: Chunk, name: str, rows: _Rows) -> EstimatedMetric:
        value = ESTIMATORS[name](rows)
        return estimated(
            chunk,
            name,
            value,
            self.sampling_errors_[name].standard_error(chunk.size),
            self.thresholds_[name],
            limits=(0.0, 1.0),
            realized=None if rows.y_true is None else _realized(name, rows.y_true, rows),
        )


def _read_scores(values: ArrayLike, *, min_rows: int) -> FloatArray:
    score = as_float_matrix(values, field="y_pred_proba", min_rows=min_rows)
    if score.shape[1] < 2 or ((score < 0) | (score > 1)).any():
        values = f" with values in [{score.min():g}, {score.max():g}]" if score.size else ""
        msg = (
            f"y_pred_proba: expected class probabilities in [0, 1], one column per class (at "
            f"least 2), got {score.shape[1]} column(s){values}; pass predict_proba(...)"
        )
        raise InvalidArgumentError(msg, field="y_pred_proba")
    return score
