"""The binary-classification metrics CBPE estimates: estimator, realized value, sampling error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from conveyor.monitoring.performance import sampling_error
from conveyor.monitoring.performance._inputs import FloatArray, IntArray
from conveyor.monitoring.performance.expected import ExpectedConfusion, expected_roc_auc
from conveyor.monitoring.performance.realized import F1, Accuracy, Precision, Recall


@dataclass(frozen=True)
class Unlabeled:
    """One chunk's model outputs: predictions, raw scores and calibrated probabilities."""

    y_pred: IntArray
    score: FloatArray
    probability: FloatArray

    def expected(self) -> ExpectedConfusion:
        """Return the chunk's expected confusion matrix."""
        return ExpectedConfusion.of(self.y_pred, self.probability)


@dataclass(frozen=True)
class Labeled:
    """One chunk's labels, predictions and raw scores."""

    y_true: IntArray
    y_pred: IntArray
    score: FloatArray


@dataclass(frozen=True)
class BinaryMetric:
    """How CBPE estimates, measures and bounds one metric."""

    estimate: Callable[[Unlabeled], float | None]
    realized: Callable[[Labeled], float | None]
    sampling_error: Callable[[Labeled], sampling_error.SamplingError]
    upper_limit: float | None = 1.0  # counts have no upper limit; rates stop at 1


def _realized_roc_auc(data: Labeled) -> float | None:
    if len(np.unique(data.y_true)) < 2:
        return None
    return float(roc_auc_score(data.y_true, data.score))


def _cell(true_label: int, pred_label: int) -> BinaryMetric:
    def estimate(data: Unlabeled) -> float:
        expected = data.expected()
        cells = {(1, 1): expected.tp, (0, 1): expected.fp, (1, 0): expected.fn}
        return cells.get((true_label, pred_label), expected.tn)

    def indicator(data: Labeled) -> IntArray:
        cell: IntArray = ((data.y_true == true_label) & (data.y_pred == pred_label)).astype(
            np.int64
        )
        return cell

    return BinaryMetric(
        estimate=estimate,
        realized=lambda d: float(indicator(d).sum()),
        sampling_error=lambda d: sampling_error.confusion_cell(indicator(d)),
        upper_limit=None,
    )


BINARY_METRICS: dict[str, BinaryMetric] = {
    "accuracy": BinaryMetric(
        estimate=lambda d: d.expected().accuracy(),
        realized=lambda d: Accuracy().update(d.y_true, d.y_pred).value(),
        sampling_error=lambda d: sampling_error.accuracy(d.y_true, d.y_pred),
    ),
    "precision": BinaryMetric(
        estimate=lambda d: d.expected().precision(),
        realized=lambda d: Precision().update(d.y_true, d.y_pred).value(),
        sampling_error=lambda d: sampling_error.precision(d.y_true, d.y_pred),
    ),
    "recall": BinaryMetric(
        estimate=lambda d: d.expected().recall(),
        realized=lambda d: Recall().update(d.y_true, d.y_pred).value(),
        sampling_error=lambda d: sampling_error.recall(d.y_true, d.y_pred),
    ),
    "f1": BinaryMetric(
        estimate=lambda d: d.expected().f1(),
        realized=lambda d: F1().update(d.y_true, d.y_pred).value(),
        sampling_error=lambda d: sampling_error.f1(d.y_true, d.y_pred),
    ),
    "roc_auc": BinaryMetric(
        estimate=lambda d: expected_roc_auc(d.probability, d.score),
        realized=_realized_roc_auc,
        sampling_error=lambda d: sampling_error.roc_auc(d.y_true, d.score),
    ),
    "true_positive": _cell(1, 1),
    "false_positive": _cell(0, 1),
    "false_negative": _cell(1, 0),
    "true_negative": _cell(0, 0),
}
