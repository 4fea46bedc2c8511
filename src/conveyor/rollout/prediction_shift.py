"""Distance between two models' prediction distributions: PSI and Jensen-Shannon.

Numeric predictions are binned on the reference's (champion's, primary's) quantiles and
class labels are counted per class; both distances come from ``conveyor.monitoring.stats``,
so a rollout reads shift on the same scale as the drift monitors (PSI 0.1 warn, 0.25 alert).

>>> shift = prediction_shift_from_counts([50, 30, 20], [40, 30, 30])
>>> round(shift.psi, 6), round(shift.js_distance, 6), shift.bins
(0.062861, 0.088416, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError


@dataclass(frozen=True)
class PredictionShift:
    """PSI and Jensen-Shannon distance (natural log) of current against reference counts."""

    psi: float
    js_distance: float
    bins: int


def prediction_shift_from_counts(reference_counts: Any, current_counts: Any) -> PredictionShift:
    """Compare two count vectors over the same bins or classes."""
    # Lazy: the monitoring statistics import pandas, which a replica's hot path never needs.
    from conveyor.monitoring.stats import jensen_shannon_from_counts, psi_from_counts

    psi = psi_from_counts(reference_counts, current_counts)
    js = jensen_shannon_from_counts(reference_counts, current_counts)
    return PredictionShift(psi, js, int(np.size(reference_counts)))


def prediction_shift(
    reference: Any, current: Any, *, categorical: bool = False, bins: int = 10
) -> PredictionShift:
    """Compare raw predictions: ``bins`` reference-quantile bins, or one bin per class.

    Numeric predictions must be finite; class predictions may be any hashable labels, and
    missing ones (None, NaN) are left out.
    """
    from conveyor.monitoring.stats import PSI, category_counts

    for name, values in (("reference", reference), ("current", current)):
        if np.ndim(values) != 1 or np.size(values) == 0:
            msg = f"{name} predictions must be a non-empty 1-D array, got shape {np.shape(values)}"
            raise InvalidArgumentError(msg, field=name)
    if categorical:
        counts = category_counts(
            np.asarray(reference, dtype=object), np.asarray(current, dtype=object)
        )
        return prediction_shift_from_counts(counts.reference, counts.current)
    statistic = PSI.from_reference(reference, bins=bins)
    if not np.isfinite(np.asarray(current, dtype=np.float64)).all():
        msg = "current predictions have NaN or infinite values; numeric predictions are finite"
        raise InvalidArgumentError(msg, field="current")
    statistic.update(np.asarray(current, dtype=np.float64))
    return prediction_shift_from_counts(statistic.reference_counts, statistic.counts_)
