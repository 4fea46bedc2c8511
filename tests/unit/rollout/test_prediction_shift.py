"""Prediction shift reuses the monitoring statistics and refuses unusable predictions."""

from __future__ import annotations

import numpy as np
import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.stats import jensen_shannon_from_counts, psi_from_counts
from conveyor.rollout.prediction_shift import prediction_shift, prediction_shift_from_counts


def test_counts_give_monitoring_psi_and_js() -> None:
    shift = prediction_shift_from_counts([10, 20, 70], [20, 20, 60])
    assert shift.psi == psi_from_counts([10, 20, 70], [20, 20, 60])
    assert shift.js_distance == jensen_shannon_from_counts([10, 20, 70], [20, 20, 60])
    assert shift.bins == 3


def test_identical_predictions_do_not_shift() -> None:
    values = np.random.default_rng(1).gamma(2.0, size=500)
    shift = prediction_shift(values, values.copy())
    assert (shift.psi, shift.js_distance) == (0.0, 0.0)


def test_missing_class_predictions_are_left_out() -> None:
    shift = prediction_shift(["a", "b", None], ["a", np.nan, "b"], categorical=True)
    assert (shift.psi, shift.bins) == (0.0, 2)


def test_a_new_class_shows_as_shift() -> None:
    assert prediction_shift(["a", "b"], ["a", "c"], categorical=True).psi > 1


@pytest.mark.parametrize(
    ("reference", "current", "match"),
    [
        ([], [1.0], "reference predictions must be a non-empty 1-D array"),
        ([1.0, 2.0], [[1.0]], "current predictions must be a non-empty 1-D array"),
        ([1.0, 2.0], [1.0, np.nan], "current predictions have NaN or infinite values"),
        ([1.0, np.inf], [1.0], "reference has 1 NaN or infinite values"),
    ],
)
def test_unusable_numeric_predictions_are_refused(
    reference: list[float], current: list[float], match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        prediction_shift(reference, current)
