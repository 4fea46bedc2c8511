"""The signal names an alert rule may test, and which of them are measured per column.

The monitor produces, per window, a mapping ``{signal: {label: value}}``; a label is a column
name for per-column signals and ``""`` for signals measured over the whole window (an optional
label on those names a segment or class, when the monitor computes one).
"""

from __future__ import annotations

import difflib
from typing import Final

PER_COLUMN_SIGNALS: Final = frozenset(
    {
        "psi",
        "ks",
        "js",
        "wasserstein",
        "chi2",
        "hellinger",
        "linf",
        "missing_rate",
        "out_of_range_rate",
        "unseen_categories",
        "embedding_mmd",
        "embedding_mmd_p_value",
    }
)
"""Signals computed once per feature column: a rule must name the column or use ``*``."""

WINDOW_SIGNALS: Final = frozenset(
    {
        "drift_share",
        "estimated_accuracy",
        "estimated_f1",
        "estimated_roc_auc",
        "estimated_mae",
        "estimated_rmse",
        "accuracy",
        "f1",
        "roc_auc",
        "mae",
        "rmse",
        "prediction_psi",
        "prediction_js",
        "target_psi",
        "target_js",
        "rows",
        "domain_classifier_auc",
        "pca_reconstruction_error",
    }
)
"""Signals computed once per window (label ``""`` unless the rule names a segment)."""

SIGNALS: Final = PER_COLUMN_SIGNALS | WINDOW_SIGNALS


def suggest_signal(name: str) -> str:
    """Return a ``did you mean`` hint for an unknown signal name, or the list of known ones.

    Examples:
        >>> suggest_signal("pis")
        "did you mean 'psi'?"
    """
    close = difflib.get_close_matches(name.lower(), sorted(SIGNALS), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "known signals: " + ", ".join(sorted(SIGNALS))
