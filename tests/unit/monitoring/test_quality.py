from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.quality import QualityIssue, check_quality
from conveyor.monitoring.reference import ReferenceProfile
from conveyor.monitoring.sketches import WindowSketch

MINUTE = 60_000


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    rng = np.random.default_rng(0)
    n = 1000
    age = rng.normal(40, 10, n)
    age[:20] = np.nan  # a 2 % missing rate in the reference
    return ReferenceProfile.from_frame(
        pd.DataFrame({"age": age, "plan": rng.choice(["basic", "pro"], n)})
    )


def _window(profile: ReferenceProfile, batch: dict[str, object]) -> WindowSketch:
    return WindowSketch.for_profile(profile, 0, MINUTE).update(batch)


def _kinds(issues: list[QualityIssue]) -> list[tuple[str, str]]:
    return [(i.column, i.kind) for i in issues]


def test_clean_window_has_no_issues(profile: ReferenceProfile) -> None:
    rng = np.random.default_rng(1)
    window = _window(profile, {"age": rng.normal(40, 5, 500), "plan": rng.choice(["basic"], 500)})
    assert check_quality(profile, window) == []


def test_missing_rate_over_tolerance_is_reported(profile: ReferenceProfile) -> None:
    age = np.full(100, 40.0)
    age[:10] = np.nan
    issues = check_quality(profile, _window(profile, {"age": age, "plan": ["pro"] * 100}))
    assert _kinds(issues) == [("age", "missing_rate")]
    assert (issues[0].value, issues[0].reference) == (0.1, 0.02)
    assert "10.0% missing values (10 of 100)" in issues[0].message
    relaxed = _window(profile, {"age": age, "plan": ["pro"] * 100})
    assert check_quality(profile, relaxed, missing_tolerance=0.2) == []


def test_out_of_range_and_infinite_values(profile: ReferenceProfile) -> None:
    window = _window(profile, {"age": [40.0, 500.0, np.inf, -np.inf], "plan": ["pro"] * 4})
    issues = check_quality(profile, window)
    assert _kinds(issues) == [("age", "infinite_values"), ("age", "out_of_range")]
    assert issues[1].value == 0.75
    assert "outside the reference range" in issues[1].message
    assert check_quality(profile, window, out_of_range_tolerance=0.8)[1:] == []


def test_unseen_categories_are_named(profile: ReferenceProfile) -> None:
    plans = ["pro"] * 5 + ["gold"] * 3 + ["trial"]
    issues = check_quality(profile, _window(profile, {"age": [40.0] * 9, "plan": plans}))
    assert _kinds(issues) == [("plan", "unseen_categories")]
    assert issues[0].examples == ("gold", "trial")
    assert issues[0].value == pytest.approx(4 / 9)
    assert "most frequent: gold, trial" in issues[0].message


def test_type_and_schema_changes(profile: ReferenceProfile) -> None:
    window = _window(profile, {"age": ["forty", "41", 42.0], "extra": [1, 2, 3]})
    issues = check_quality(profile, window)
    assert _kinds(issues) == [
        ("age", "type_mismatch"),
        ("plan", "missing_column"),
        ("extra", "new_column"),
    ]
    assert issues[0].examples == ("str",)
    assert issues[0].value == pytest.approx(2 / 3)
    assert issues[1].value == 1.0


def test_empty_window_has_no_findings(profile: ReferenceProfile) -> None:
    assert check_quality(profile, WindowSketch.for_profile(profile, 0, MINUTE)) == []


def test_all_nan_window_is_reported_as_missing(profile: ReferenceProfile) -> None:
    window = _window(profile, {"age": np.full(10, np.nan), "plan": [None] * 10})
    assert _kinds(check_quality(profile, window)) == [
        ("age", "missing_rate"),
        ("plan", "missing_rate"),
    ]


def test_bad_arguments_raise(profile: ReferenceProfile) -> None:
    window = WindowSketch.for_profile(profile, 0, MINUTE)
    with pytest.raises(InvalidArgumentError, match="missing_tolerance must be a rate"):
        check_quality(profile, window, missing_tolerance=float("nan"))
    other = ReferenceProfile.from_frame(pd.DataFrame({"z": [1.0]}))
    with pytest.raises(InvalidArgumentError, match="are not the profile's"):
        check_quality(other, window)
