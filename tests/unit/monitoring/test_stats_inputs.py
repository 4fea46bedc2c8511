"""Bad input to the statistics raises InvalidArgumentError naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.stats import (
    PSI,
    ChiSquare,
    chi2_from_counts,
    jensen_shannon_from_counts,
    ks_2samp_test,
    psi,
    psi_from_counts,
    psi_level,
    quantile_edges,
    z_test_proportions,
)


@pytest.mark.parametrize(
    ("reference", "current", "match"),
    [
        ([1.0, np.nan], [1.0, 2.0], "NaN or infinite"),
        ([1.0, 2.0], [np.inf], "NaN or infinite"),
        ([], [1.0], "empty"),
        ([[1.0, 2.0]], [1.0], "1-D"),
        (["a", "b"], [1.0], "numbers"),
    ],
)
def test_sample_statistics_reject_bad_samples(
    reference: object, current: object, match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        ks_2samp_test(reference, current)


@pytest.mark.parametrize(
    ("reference", "current", "match"),
    [
        ([1, 2], [1, 2, 3], "same bin edges"),
        ([0, 0], [1, 2], "sum to zero"),
        ([1, -1], [1, 2], "non-negative"),
        ([1, np.nan], [1, 2], "finite"),
    ],
)
def test_count_statistics_reject_bad_counts(reference: object, current: object, match: str) -> None:
    for function in (psi_from_counts, jensen_shannon_from_counts, chi2_from_counts):
        with pytest.raises(InvalidArgumentError, match=match):
            function(reference, current)


def test_parameters_are_validated() -> None:
    with pytest.raises(InvalidArgumentError, match="eps"):
        psi_from_counts([1, 1], [1, 1], eps=0)
    with pytest.raises(InvalidArgumentError, match="bins"):
        psi([1.0, 2.0], [1.0], bins=1)
    with pytest.raises(InvalidArgumentError, match="bins"):
        quantile_edges([1.0, 2.0], bins=True)
    with pytest.raises(InvalidArgumentError, match="base"):
        jensen_shannon_from_counts([1, 1], [1, 1], base=1)
    with pytest.raises(InvalidArgumentError, match="PSI value"):
        psi_level(float("nan"))
    with pytest.raises(InvalidArgumentError, match="current_successes"):
        z_test_proportions(1, 10, 11, 10)
    with pytest.raises(InvalidArgumentError, match="reference_total"):
        z_test_proportions(0, 0, 1, 10)


def test_streaming_rejects_bad_construction_and_foreign_merges() -> None:
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        PSI(reference_counts=[1, 2])
    with pytest.raises(InvalidArgumentError, match="2 counts"):
        PSI(reference_counts=[1, 2, 3], edges=[0.5])
    with pytest.raises(InvalidArgumentError, match="strictly increasing"):
        PSI(reference_counts=[1, 2, 3], edges=[0.5, 0.5])
    with pytest.raises(InvalidArgumentError, match="unique"):
        ChiSquare(reference_counts=[1, 2], categories=["a", "a"])
    with pytest.raises(InvalidArgumentError, match="same reference"):
        PSI.from_reference([1.0, 2.0, 3.0]).merge(PSI.from_reference([1.0, 5.0, 9.0]))
    with pytest.raises(InvalidArgumentError, match="numbers"):
        PSI.from_reference([1.0, 2.0, 3.0]).update(np.array(["x"], dtype=object))
    with pytest.raises(InvalidArgumentError, match="no non-missing"):
        ChiSquare.from_categories([None, None])


def test_value_of_an_empty_window_is_an_error_not_a_number() -> None:
    with pytest.raises(InvalidArgumentError, match="current_counts sum to zero"):
        PSI.from_reference([1.0, 2.0, 3.0]).value()
