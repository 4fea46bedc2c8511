"""Performance monitoring: realized metrics from delayed labels, estimated metrics without them.

* Realized, per window, as mergeable accumulators (``update -> self``, ``merge``/``+=``,
  ``value()``): :class:`Accuracy`, :class:`Precision`, :class:`Recall`, :class:`F1` and
  :class:`ConfusionMatrix` over confusion counts, :class:`RocAuc` over score histograms,
  :class:`MeanAbsoluteError`, :class:`RootMeanSquaredError`,
  :class:`MeanAbsolutePercentageError` over sums of errors.
* Estimated, per chunk, without labels (NannyML's methods): :class:`CBPE` for binary
  classifiers, :class:`MulticlassCBPE` for multiclass ones and :class:`DLE` for regressors,
  each returning :class:`EstimatedMetric` records with confidence bands and alert thresholds.
"""

from conveyor.monitoring.performance.cbpe import CBPE
from conveyor.monitoring.performance.dle import DLE
from conveyor.monitoring.performance.estimates import Chunk, EstimatedMetric, split_chunks
from conveyor.monitoring.performance.multiclass import MulticlassCBPE
from conveyor.monitoring.performance.realized import (
    F1,
    Accuracy,
    ConfusionMatrix,
    Precision,
    Recall,
)
from conveyor.monitoring.performance.regression import (
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    RootMeanSquaredError,
)
from conveyor.monitoring.performance.roc_auc import RocAuc

__all__ = [
    "CBPE",
    "DLE",
    "F1",
    "Accuracy",
    "Chunk",
    "ConfusionMatrix",
    "EstimatedMetric",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MulticlassCBPE",
    "Precision",
    "Recall",
    "RocAuc",
    "RootMeanSquaredError",
    "split_chunks",
]
