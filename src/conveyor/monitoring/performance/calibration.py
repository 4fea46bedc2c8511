"""Calibration of reference scores into probabilities for CBPE (NannyML's procedure)."""

from __future__ import annotations

import itertools

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit

from conveyor.monitoring.performance._inputs import FloatArray, IntArray

# NannyML's defaults (nannyml/calibration.py): 10 equal-count bins, 10 shuffled 90/10 splits
# seeded with 42, so the decision is the same as NannyML's on the same reference.
ECE_BINS = 10
SPLITS = 10
SPLIT_SEED = 42


def isotonic_calibrator() -> IsotonicRegression:
    """Return the calibrator NannyML uses: increasing isotonic regression, clipped at the ends."""
    return IsotonicRegression(out_of_bounds="clip", increasing=True)


def expected_calibration_error(
    y_true: IntArray, y_score: FloatArray, bins: int = ECE_BINS
) -> float:
    """Return the ECE over equal-count bins of the sorted scores.

    ``ECE = Σ_b (n_b / n) x |mean(score_b) - mean(y_b)|`` (Naeini et al. 2015), with the bins
    cut as NannyML's ``_get_bin_index_edges`` cuts them: ``bins`` slices of ``n // bins`` rows,
    the last one taking the remainder, and fewer bins when ``n <= 2 x bins``.

    Examples:
        >>> expected_calibration_error(np.array([0, 0, 1, 1]), np.array([0.0, 0.0, 1.0, 1.0]))
        0.0
    """
    n = len(y_score)
    if n <= 2 * bins:
        bins = max(n // 2, 1)
    width = n // bins
    edges = list(range(0, n + 1, width))
    edges[-1] = n
    order = np.argsort(y_score, kind="stable")
    score, truth = y_score[order], y_true[order]
    terms = [
        (stop - start) / n * abs(score[start:stop].mean() - truth[start:stop].mean())
        for start, stop in itertools.pairwise(edges)
    ]
    return float(np.sum(terms))


def needs_calibration(y_true: IntArray, y_score: FloatArray) -> bool:
    """Return whether isotonic calibration lowers the reference's expected calibration error.

    NannyML's ``needs_calibration``: scores of a perfect ranker (AUC > 0.999) are left alone;
    otherwise the calibrator is fitted on 90 % and applied to 10 % of the reference, ten times,
    and calibration is needed when the pooled held-out ECE drops.
    """
    if roc_auc_score(y_true, y_score) > 0.999:
        return False
    splits = StratifiedShuffleSplit(n_splits=SPLITS, test_size=0.1, random_state=SPLIT_SEED)
    truths, raw, calibrated = [], [], []
    for train, test in splits.split(y_score, y_true):
        calibrator = isotonic_calibrator().fit(y_score[train], y_true[train])
        truths.append(y_true[test])
        raw.append(y_score[test])
        calibrated.append(np.asarray(calibrator.predict(y_score[test]), dtype=np.float64))
    truth = np.concatenate(truths)
    before = expected_calibration_error(truth, np.concatenate(raw))
    after = expected_calibration_error(truth, np.concatenate(calibrated))
    return before > after
