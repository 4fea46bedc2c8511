"""Sampling error of a performance metric on a chunk, from its spread on the reference.

NannyML's method (``nannyml/sampling_error/binary_classification.py`` and ``regression.py``):
write the metric as a mean over the rows it covers of an observation-level value, take that
value's standard deviation ``std`` on the reference, and the standard error on a chunk of ``n``
rows is ``std / sqrt(n x f)``, ``f`` being the share of rows the metric covers (the predicted
positives for precision, the actual positives for recall, ...). Confidence bands are
``estimate ± 3 x standard error``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.performance._inputs import FloatArray, IntArray


@dataclass(frozen=True)
class SamplingError:
    """Reference standard deviation ``std`` of the observation-level metric and its row share.

    ``scale_with_size`` is set for counts (confusion-matrix cells), whose standard error grows
    as ``std x sqrt(n)`` instead of shrinking as ``std / sqrt(n)``.
    """

    std: float
    fraction: float = 1.0
    scale_with_size: bool = False

    def standard_error(self, n_rows: int) -> float:
        """Return the metric's standard error on a chunk of ``n_rows`` rows."""
        error = self.std / math.sqrt(n_rows * self.fraction)
        return error * n_rows if self.scale_with_size else error


def _std(values: FloatArray | IntArray) -> float:
    return float(np.std(values)) if len(values) else 0.0


def accuracy(y_true: IntArray, y_pred: IntArray) -> SamplingError:
    """Accuracy: std of the per-row correctness indicator."""
    return SamplingError(_std((y_true == y_pred).astype(np.float64)))


def precision(y_true: IntArray, y_pred: IntArray) -> SamplingError:
    """Precision: std of "correct" over the predicted positives, share of predicted positives."""
    predicted = y_pred == 1
    if not predicted.any():
        msg = (
            "y_pred: the reference has no positive predictions, so precision's sampling error "
            "is undefined; drop 'precision' from metrics or use a reference with positives"
        )
        raise InvalidArgumentError(msg, field="y_pred")
    return SamplingError(_std(y_true[predicted]), float(predicted.mean()))


def recall(y_true: IntArray, y_pred: IntArray) -> SamplingError:
    """Recall: std of "predicted positive" over the actual positives, share of positives."""
    actual = y_true == 1
    return SamplingError(_std(y_pred[actual]), float(actual.mean()))


def f1(y_true: IntArray, y_pred: IntArray, *, corrected: bool = True) -> SamplingError:
    """F1: TP rows count 1 and FP/FN rows 0, rescaled so their mean is F1 (NannyML's form).

    NannyML's multiclass F1 omits the rescaling (``corrected=False``) for each class.
    """
    tp = int(((y_true == 1) & (y_pred == 1)).sum())
    wrong = int((y_true != y_pred).sum())
    relevant = tp + wrong
    observations = np.concatenate([np.ones(tp), np.zeros(wrong)])
    if corrected and relevant:
        observations *= relevant / (tp + 0.5 * wrong)
    return SamplingError(_std(observations), relevant / len(y_true))


def roc_auc(y_true: IntArray, y_score: FloatArray) -> SamplingError:
    """ROC AUC as a Mann-Whitney U statistic: per positive, the share of negatives below it.

    The minority class plays "positive" (NannyML flips labels and scores when positives are the
    majority). NannyML drops a positive ranked first (a side effect of its rank arithmetic); it
    is kept here, which changes the standard deviation by O(1/n).
    """
    truth, score = y_true, y_score
    if truth.mean() > 0.5:
        truth, score = 1 - truth, 1.0 - score
    order = np.argsort(score, kind="stable")
    positions = np.flatnonzero(truth[order] == 1)
    negatives_below = positions - np.arange(len(positions))
    n_neg = len(truth) - len(positions)
    return SamplingError(_std(negatives_below / n_neg), len(positions) / len(truth))


def confusion_cell(cell: IntArray) -> SamplingError:
    """A confusion-matrix count: std of the cell's per-row indicator, scaled by chunk size."""
    return SamplingError(_std(cell.astype(np.float64)), scale_with_size=True)


def mean_absolute_error(y_true: FloatArray, y_pred: FloatArray) -> SamplingError:
    """MAE: std of the absolute errors."""
    return SamplingError(_std(np.abs(y_true - y_pred)))


def root_mean_squared_error(y_true: FloatArray, y_pred: FloatArray) -> SamplingError:
    """RMSE by the delta method: ``sqrt(var(e²) / (4 n mean(e²)))`` (NannyML's formula)."""
    squared = np.square(y_true - y_pred)
    mean = float(squared.mean())
    if mean == 0:
        return SamplingError(0.0)
    return SamplingError(_std(squared) / (2 * math.sqrt(mean)))


@dataclass(frozen=True)
class MacroSamplingError:
    """Sampling error of a macro average: ``factor x sqrt(sum_c SE_c^2) / k`` over ``k`` classes.

    NannyML's ``_standard_deviation_of_variances`` (multiclass); for ROC AUC NannyML scales the
    result by 1.2, having found the plain sum underestimates the error by about 20 %.
    """

    per_class: tuple[SamplingError, ...]
    factor: float = 1.0

    def standard_error(self, n_rows: int) -> float:
        """Return the macro-averaged metric's standard error on a chunk of ``n_rows`` rows."""
        variances = [c.standard_error(n_rows) ** 2 for c in self.per_class]
        return self.factor * math.sqrt(sum(variances)) / len(variances)
