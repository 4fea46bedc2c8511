"""Fixed-horizon A/B tests equal SciPy (1e-9), are symmetric, and stay clear on edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from conveyor.errors import InvalidArgumentError
from conveyor.rollout.abtest import ABTestResult, two_proportion_ztest, welch_ttest
from conveyor.rollout.accumulators import MeanAccumulator, ProportionAccumulator

RNG = np.random.default_rng(20_250_101)


@pytest.mark.parametrize(
    ("n_a", "n_b", "shift", "scale_b"),
    [(2, 3, 0.0, 1.0), (30, 45, 0.4, 3.0), (500, 80, -0.2, 0.3), (20_000, 19_000, 0.01, 1.0)],
)
def test_welch_equals_scipy_ttest_ind(n_a: int, n_b: int, shift: float, scale_b: float) -> None:
    a, b = RNG.normal(10.0, 1.0, n_a), RNG.normal(10.0 + shift, scale_b, n_b)
    # Build arm b from three merged replicas: merging must not change the answer.
    arm_b = sum(
        (MeanAccumulator.from_values(part) for part in np.array_split(b, 3)), MeanAccumulator()
    )
    got = welch_ttest(MeanAccumulator.from_values(a), arm_b)
    expected = stats.ttest_ind(b, a, equal_var=False)
    ci = expected.confidence_interval(0.95)
    assert got.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    assert got.df == pytest.approx(expected.df, abs=1e-9)
    assert got.ci is not None
    assert got.ci[0] == pytest.approx(ci.low, abs=1e-9)
    assert got.ci[1] == pytest.approx(ci.high, abs=1e-9)
    assert got.difference == pytest.approx(b.mean() - a.mean(), abs=1e-12)


def test_welch_ci_follows_alpha() -> None:
    a, b = RNG.exponential(1.0, 300), RNG.exponential(1.3, 250)
    got = welch_ttest(MeanAccumulator.from_values(a), MeanAccumulator.from_values(b), alpha=0.1)
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.9)
    assert got.confidence == pytest.approx(0.9)
    assert got.ci == pytest.approx((ci.low, ci.high), abs=1e-9)


@pytest.mark.parametrize(
    ("a", "b"),
    [((1_000, 100), (1_000, 140)), ((57, 3), (61, 9)), ((40_000, 3_900), (39_000, 3_700))],
)
def test_z_squared_equals_chi_square_without_yates(a: tuple[int, int], b: tuple[int, int]) -> None:
    (n_a, x_a), (n_b, x_b) = a, b
    table = np.array([[x_a, n_a - x_a], [x_b, n_b - x_b]])
    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    got = two_proportion_ztest(ProportionAccumulator(n_a, x_a), ProportionAccumulator(n_b, x_b))
    assert got.statistic is not None
    assert got.statistic**2 == pytest.approx(chi2, abs=1e-9)
    assert got.p_value == pytest.approx(p_value, abs=1e-9)
    assert math.copysign(1, got.statistic) == math.copysign(1, x_b / n_b - x_a / n_a)


def test_z_ci_is_the_unpooled_wald_interval() -> None:
    got = two_proportion_ztest(ProportionAccumulator(800, 96), ProportionAccumulator(900, 144))
    p_a, p_b = 96 / 800, 144 / 900
    se = math.sqrt(p_a * (1 - p_a) / 800 + p_b * (1 - p_b) / 900)
    half = stats.norm.ppf(0.975) * se
    assert got.ci == pytest.approx((p_b - p_a - half, p_b - p_a + half), abs=1e-12)


def test_decision_names_the_better_arm_by_direction() -> None:
    a, b = ProportionAccumulator(5_000, 500), ProportionAccumulator(5_000, 600)
    assert two_proportion_ztest(a, b).decision == "b_wins"
    assert two_proportion_ztest(a, b, higher_is_better=False).decision == "a_wins"
    assert "b wins at alpha=0.05" in two_proportion_ztest(a, b).note


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 500), st.integers(1, 500), st.floats(0, 1), st.floats(0, 1), st.booleans())
def test_swapping_proportion_arms_flips_the_sign(
    n_a: int, n_b: int, share_a: float, share_b: float, higher: bool
) -> None:
    a = ProportionAccumulator(n_a, round(share_a * n_a))
    b = ProportionAccumulator(n_b, round(share_b * n_b))
    _assert_mirrored(
        two_proportion_ztest(a, b, higher_is_better=higher),
        two_proportion_ztest(b, a, higher_is_better=higher),
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=30),
    st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=30),
)
def test_swapping_mean_arms_flips_the_sign(a: list[float], b: list[float]) -> None:
    arm_a, arm_b = MeanAccumulator.from_values(a), MeanAccumulator.from_values(b)
    _assert_mirrored(welch_ttest(arm_a, arm_b), welch_ttest(arm_b, arm_a))


def _assert_mirrored(forward: ABTestResult, backward: ABTestResult) -> None:
    assert forward.difference == pytest.approx(-backward.difference, abs=1e-9)  # type: ignore[operator]
    assert forward.p_value == pytest.approx(backward.p_value, abs=1e-12)
    assert forward.statistic == pytest.approx(-backward.statistic, abs=1e-9)  # type: ignore[operator]
    assert forward.ci is not None
    assert backward.ci is not None
    assert forward.ci[0] == pytest.approx(-backward.ci[1], abs=1e-9)
    assert forward.ci[1] == pytest.approx(-backward.ci[0], abs=1e-9)
    flipped = {"a_wins": "b_wins", "b_wins": "a_wins", "inconclusive": "inconclusive"}
    assert backward.decision == flipped[forward.decision]


def test_sample_size_matches_the_textbook_values() -> None:
    # Fleiss without continuity correction: 10 % vs 12 %, alpha 0.05 two-sided, power 0.8.
    flat = two_proportion_ztest(
        ProportionAccumulator(100, 10), ProportionAccumulator(100, 10), minimum_effect=0.02
    )
    assert flat.samples_needed_per_arm == 3_841
    # Means, sd 1 per arm, detect 0.2: ceil((1.96 + 0.8416)^2 * 2 / 0.04) = 393.
    unit = MeanAccumulator(count=50, mean=0.0, m2=49.0)
    result = welch_ttest(unit, MeanAccumulator(50, 0.0, 49.0), minimum_effect=0.2)
    assert result.samples_needed_per_arm == 393
    assert "about 393 samples per arm detect a difference of 0.2 with 80% power" in result.note


def test_sample_size_uses_the_observed_difference_and_notes_enough_data() -> None:
    observed = two_proportion_ztest(ProportionAccumulator(200, 20), ProportionAccumulator(200, 26))
    assert observed.decision == "inconclusive"
    assert observed.samples_needed_per_arm is not None
    assert observed.samples_needed_per_arm > 200
    big = welch_ttest(
        MeanAccumulator(5_000, 0.0, 4_999.0), MeanAccumulator(5_000, 0.01, 4_999.0),
        minimum_effect=0.5,
    )  # fmt: skip
    assert "both arms hold that many: a difference that large is unlikely" in big.note


def test_no_trials_is_inconclusive_with_a_reason() -> None:
    result = two_proportion_ztest(ProportionAccumulator(), ProportionAccumulator(10, 3))
    assert result.decision == "inconclusive"
    assert result.p_value == 1.0
    assert (result.estimate_a, result.difference, result.ci, result.statistic) == (
        None, None, None, None,
    )  # fmt: skip
    assert result.note == "arm a has no trials yet; the test needs outcomes in both arms"


def test_all_successes_in_both_arms_cannot_differ() -> None:
    result = two_proportion_ztest(ProportionAccumulator(50, 50), ProportionAccumulator(80, 80))
    assert (result.statistic, result.p_value, result.decision) == (0.0, 1.0, "inconclusive")
    assert result.ci == (0.0, 0.0)
    assert "no observed difference: pass minimum_effect" in result.note
    assert "rough with fewer than 5 successes or failures" in result.note


@pytest.mark.parametrize("counts", [(0, 5), (1, 5)])
def test_welch_needs_two_values_per_arm(counts: tuple[int, int]) -> None:
    a = MeanAccumulator.from_values([1.0] * counts[0])
    result = welch_ttest(a, MeanAccumulator.from_values(np.arange(counts[1], dtype=float)))
    assert result.decision == "inconclusive"
    assert result.p_value == 1.0
    assert f"arm a has {counts[0]} values; the Welch test needs at least 2" in result.note


def test_zero_variance_arms_are_exact_not_nan() -> None:
    same = welch_ttest(
        MeanAccumulator.from_values([2.0] * 3), MeanAccumulator.from_values([2.0] * 4)
    )
    assert (same.statistic, same.p_value, same.decision) == (0.0, 1.0, "inconclusive")
    apart = welch_ttest(
        MeanAccumulator.from_values([1.0] * 3), MeanAccumulator.from_values([2.0] * 3)
    )
    assert (apart.statistic, apart.p_value, apart.decision) == (math.inf, 0.0, "b_wins")
    assert apart.ci == (1.0, 1.0)
    assert apart.to_dict()["statistic"] is None
    json.dumps(apart.to_dict(), allow_nan=False)


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")  # SciPy, constant a
def test_one_zero_variance_arm_still_equals_scipy() -> None:
    a, b = np.full(20, 3.0), RNG.normal(3.2, 0.5, 25)
    got = welch_ttest(MeanAccumulator.from_values(a), MeanAccumulator.from_values(b))
    expected = stats.ttest_ind(b, a, equal_var=False)
    assert got.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    assert got.df == pytest.approx(24.0)


def test_result_to_dict_is_strict_json() -> None:
    result = two_proportion_ztest(ProportionAccumulator(300, 30), ProportionAccumulator(300, 45))
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["ci"] == list(result.ci)  # type: ignore[arg-type]
    assert data["decision"] == result.decision
    assert set(data) >= {"estimate_a", "estimate_b", "p_value", "samples_needed_per_arm", "note"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.0}, "alpha must be a number strictly between 0 and 1"),
        ({"power": 1.0}, "power must be a number strictly between 0 and 1"),
        ({"minimum_effect": 0.0}, "minimum_effect must be non-zero"),
        ({"minimum_effect": math.nan}, "minimum_effect must be a finite number"),
    ],
)
def test_options_are_checked(kwargs: dict[str, float], match: str) -> None:
    arm = ProportionAccumulator(10, 5)
    with pytest.raises(InvalidArgumentError, match=match):
        two_proportion_ztest(arm, arm, **kwargs)  # type: ignore[arg-type]


def test_arms_of_the_wrong_kind_are_named() -> None:
    with pytest.raises(InvalidArgumentError, match="a must be a MeanAccumulator"):
        welch_ttest(ProportionAccumulator(5, 1), MeanAccumulator())  # type: ignore[arg-type]


def test_minimum_effect_near_one_sizes_downwards() -> None:
    high = two_proportion_ztest(
        ProportionAccumulator(100, 98), ProportionAccumulator(100, 98), minimum_effect=0.05
    )
    # 0.98 + 0.05 > 1, so the size is for 0.98 vs 0.93 instead.
    assert high.samples_needed_per_arm is not None
    assert "detect a difference of 0.05" in high.note
