"""Signals of one window against its reference, read from sketches only.

The monitor turns every closed window into ``{signal: {label: value}}`` (the shape the alert
evaluator reads): per-feature drift on the reference's bins and categories (PSI, Jensen-Shannon,
Hellinger, L-infinity, chi-square p-value), prediction drift, the share of drifted features, and
data quality rates. Everything is computed from bin and category counts, so the cost depends on
the number of columns and bins, never on the traffic.

A column counts as drifted when its Jensen-Shannon distance on the reference bins is at least
``DRIFT_JS_THRESHOLD`` (0.1, Evidently's default threshold for its distance tests). Raw-sample
tests (KS, Wasserstein) need the rows, not a sketch; ``conveyor monitor compare`` runs them
offline on two data sets (``monitoring.drift``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from conveyor.monitoring.reference import ColumnProfile, ReferenceProfile
from conveyor.monitoring.sketches import CategoricalSketch, NumericSketch, WindowSketch
from conveyor.monitoring.stats import (
    chi2_from_counts,
    hellinger_from_counts,
    jensen_shannon_from_counts,
    linf_from_counts,
    psi_from_counts,
)

DRIFT_JS_THRESHOLD = 0.1

Signals = dict[str, dict[str, float]]


def reference_counts(column: ColumnProfile) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The reference's counts per bin (numeric) or per category then "other" (categorical)."""
    if column.kind == "numeric":
        return np.asarray(column.bin_counts, dtype=np.int64)
    return np.asarray([*column.category_counts, column.other_count], dtype=np.int64)


def _current_counts(sketch: NumericSketch | CategoricalSketch) -> np.ndarray[Any, Any]:
    if isinstance(sketch, NumericSketch):
        return sketch.bin_counts()
    return sketch.counts


def _distances(reference: np.ndarray[Any, Any], current: np.ndarray[Any, Any]) -> dict[str, float]:
    return {
        "psi": psi_from_counts(reference, current),
        "js": jensen_shannon_from_counts(reference, current),
        "hellinger": hellinger_from_counts(reference, current),
        "linf": linf_from_counts(reference, current),
    }


def _add(signals: Signals, signal: str, label: str, value: float) -> None:
    if not math.isnan(value):
        signals.setdefault(signal, {})[label] = value


def window_signals(profile: ReferenceProfile, window: WindowSketch) -> Signals:
    """Return the drift and data-quality signals of ``window`` (empty for an empty window)."""
    signals: Signals = {}
    if window.rows == 0:
        return signals
    drifted, features = 0, 0
    for name, column in profile.columns.items():
        sketch = window.columns.get(name)
        if sketch is None or column.role == "target":
            continue
        present = sketch.rows
        if present:
            _add(signals, "missing_rate", name, sketch.missing / present)
        reference = reference_counts(column)
        current = _current_counts(sketch)
        if int(current.sum()) == 0 or int(reference.sum()) == 0:
            continue  # nothing to compare: "no data" for the alert rules, not a zero
        distances = _distances(reference, current)
        if column.role in ("prediction", "probability"):  # prediction drift
            _add(signals, "prediction_psi", name, distances["psi"])
            _add(signals, "prediction_js", name, distances["js"])
            continue
        for signal, value in distances.items():
            _add(signals, signal, name, value)
        if isinstance(sketch, CategoricalSketch):
            _add(signals, "chi2", name, chi2_from_counts(reference, current).p_value)
            _add(signals, "unseen_categories", name, sketch.other_count / sketch.count)
        else:
            _add(signals, "out_of_range_rate", name, sketch.out_of_range / sketch.count)
        features += 1
        drifted += distances["js"] >= DRIFT_JS_THRESHOLD
    if features:
        _add(signals, "drift_share", "", drifted / features)
    _add(signals, "rows", "", float(window.rows))
    return signals
