"""Evidently 0.7's automatic test choice, row by row of its rules table."""

from __future__ import annotations

import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.drift_selection import STATTESTS, default_stattest, get_stattest


@pytest.mark.parametrize(
    ("kind", "reference_rows", "n_unique", "expected"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 3, "chisquare"),
        ("numeric", 1000, 2, "z"),
        ("numeric", 10, 1, "z"),
        ("categorical", 1000, 3, "chisquare"),
        ("categorical", 1000, 2, "z"),
        ("categorical", 1000, 40, "chisquare"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("numeric", 1001, 1, "jensenshannon"),
        ("categorical", 1001, 2, "jensenshannon"),
        ("categorical", 10**6, 500, "jensenshannon"),
    ],
)
def test_default_stattest_follows_evidently_rules(
    kind: str, reference_rows: int, n_unique: int, expected: str
) -> None:
    assert default_stattest(kind, reference_rows, n_unique).name == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "threshold", "at_threshold_drifts"),
    [
        ("ks", 0.05, True),  # p <= threshold
        ("chisquare", 0.05, False),  # p < threshold
        ("z", 0.05, False),
        ("wasserstein", 0.1, True),  # distance >= threshold
        ("jensenshannon", 0.1, True),
        ("psi", 0.1, True),
    ],
)
def test_thresholds_and_rules_match_evidently(
    name: str, threshold: float, at_threshold_drifts: bool
) -> None:
    test = STATTESTS[name]
    assert test.default_threshold == threshold
    assert test.is_drift(threshold, threshold) is at_threshold_drifts
    beyond = threshold / 2 if test.is_p_value else threshold * 2
    assert test.is_drift(beyond, threshold)


def test_get_stattest_rejects_unknown_and_wrong_kind() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown stattest 'nope' for column 'x'"):
        get_stattest("nope", "numeric", "x")
    with pytest.raises(InvalidArgumentError, match="takes numeric columns but 'x' is categorical"):
        get_stattest("ks", "categorical", "x")
