"""Expected binary-classification metrics given calibrated probabilities (CBPE's estimators).

With calibrated ``p_i = P(y_i = 1)`` and the model's prediction ``ŷ_i``, the expected cells of
the confusion matrix are ``TP = Σ_{ŷ=1} p``, ``FP = Σ_{ŷ=1} (1 - p)``, ``FN = Σ_{ŷ=0} p`` and
``TN = Σ_{ŷ=0} (1 - p)``; each metric is computed from them as from realized counts
(NannyML, "Confidence-based Performance Estimation", ``estimate_*`` in
``nannyml/performance_estimation/confidence_based/metrics.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conveyor.monitoring.performance._inputs import FloatArray, IntArray


@dataclass(frozen=True)
class ExpectedConfusion:
    """Expected confusion-matrix cells of one chunk."""

    tp: float
    fp: float
    fn: float
    tn: float

    @classmethod
    def of(cls, y_pred: IntArray, probability: FloatArray) -> ExpectedConfusion:
        """Return the expected cells for predictions ``y_pred`` and calibrated ``probability``.

        Examples:
            >>> ExpectedConfusion.of(np.array([1, 0]), np.array([0.75, 0.25]))
            ExpectedConfusion(tp=0.75, fp=0.25, fn=0.25, tn=0.75)
        """
        positive = y_pred == 1
        tp = float(probability[positive].sum())
        fn = float(probability[~positive].sum())
        return cls(tp, int(positive.sum()) - tp, fn, int((~positive).sum()) - fn)

    def accuracy(self) -> float:
        """Expected ``(TP + TN) / n``."""
        return (self.tp + self.tn) / (self.tp + self.fp + self.fn + self.tn)

    def precision(self) -> float:
        """Expected ``TP / (TP + FP)``; 0 when nothing is predicted positive (NannyML's)."""
        return _ratio(self.tp, self.tp + self.fp)

    def recall(self) -> float:
        """Expected ``TP / (TP + FN)``; 0 when no positive is expected."""
        return _ratio(self.tp, self.tp + self.fn)

    def f1(self) -> float:
        """Expected ``TP / (TP + (FP + FN) / 2)``."""
        return _ratio(self.tp, self.tp + 0.5 * (self.fp + self.fn))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else 0.0


def expected_roc_auc(probability: FloatArray, score: FloatArray) -> float | None:
    """Return the expected ROC AUC, or None when the calibrated probabilities are all 0 or all 1.

    The thresholds are the model's own (uncalibrated) ``score`` values in decreasing order; at
    each, the expected true positives are the running sum of calibrated ``probability`` and the
    expected false positives the running sum of ``1 - probability``; the area under the expected
    (FPR, TPR) curve is taken by the trapezoidal rule. Tied scores form one threshold, as in
    ``sklearn.metrics.roc_curve`` (NannyML steps through ties one row at a time, which only
    differs when scores repeat).

    Examples:
        >>> expected_roc_auc(np.array([0.9, 0.1]), np.array([0.8, 0.3]))
        0.9
    """
    order = np.argsort(-score, kind="stable")
    p, s = probability[order], score[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.r_[0.0, np.cumsum(p)[last_of_tie]]
    fps = np.r_[0.0, np.cumsum(1.0 - p)[last_of_tie]]
    if tps[-1] <= 0 or fps[-1] <= 0:
        return None
    return float(np.trapezoid(tps / tps[-1], fps / fps[-1]))
