"""mSPRT: peeking keeps the false-positive rate at alpha, real effects are found, state persists."""

from __future__ import annotations

import json
import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from conveyor.errors import InvalidArgumentError
from conveyor.rollout.accumulators import MeanAccumulator, ProportionAccumulator
from conveyor.rollout.sequential import (
    SequentialTest,
    confidence_half_width,
    mixing_variance,
    mixture_log_likelihood_ratio,
    msprt_test,
    optimal_mixing_ratio,
)

ALPHA = 0.05
N_EXPERIMENTS, N_PER_ARM, PEEK_EVERY = 300, 2_000, 50
LOOKS = np.arange(PEEK_EVERY, N_PER_ARM + 1, PEEK_EVERY)
Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _moments_at_looks(samples: Array) -> tuple[Array, Array]:
    """Running mean and sample variance of each experiment (row) at every look."""
    sums = np.cumsum(samples, axis=1)[:, LOOKS - 1]
    squares = np.cumsum(samples**2, axis=1)[:, LOOKS - 1]
    means = sums / LOOKS
    return means, np.maximum(squares - LOOKS * means**2, 0.0) / (LOOKS - 1)


def _rejections(a: Array, b: Array) -> tuple[BoolArray, BoolArray]:
    """Per experiment: did the mSPRT, and did a naive Welch test, reject at any look?"""
    mean_a, var_a = _moments_at_looks(a)
    mean_b, var_b = _moments_at_looks(b)
    difference, variance = mean_b - mean_a, var_a / LOOKS + var_b / LOOKS
    tau2 = mixing_variance(var_a, var_b, N_PER_ARM, ALPHA)
    log_lr = mixture_log_likelihood_ratio(difference, variance, tau2)
    sequential = np.asarray((log_lr >= math.log(1 / ALPHA)).any(axis=1), dtype=bool)
    share_a = (var_a / LOOKS) / variance
    df = (LOOKS - 1) / (share_a**2 + (1 - share_a) ** 2)
    naive_p = np.asarray(2 * stats.t.sf(np.abs(difference) / np.sqrt(variance), df))
    return sequential, np.asarray((naive_p < ALPHA).any(axis=1), dtype=bool)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("outcome", ["normal", "binary"])
def test_peeking_keeps_false_positives_at_alpha_where_naive_testing_does_not(
    outcome: str,
) -> None:
    rng = np.random.default_rng(11 if outcome == "normal" else 12)
    shape = (N_EXPERIMENTS, N_PER_ARM)
    if outcome == "normal":
        a, b = rng.normal(5.0, 2.0, shape), rng.normal(5.0, 2.0, shape)
    else:
        a, b = (rng.random(shape) < 0.1).astype(float), (rng.random(shape) < 0.1).astype(float)
    sequential, naive = _rejections(a, b)
    # Binomial sd of a 5 % rate over 300 experiments is 1.3 %: allow 2 sd above alpha.
    assert sequential.mean() <= ALPHA + 0.025
    assert naive.mean() > 0.15  # 40 peeks at a fixed-horizon test: roughly 0.25-0.35


@pytest.mark.timeout(20)
def test_a_real_effect_is_detected() -> None:
    rng = np.random.default_rng(13)
    shape = (N_EXPERIMENTS, N_PER_ARM)
    a, b = rng.normal(0.0, 1.0, shape), rng.normal(0.15, 1.0, shape)
    sequential, _ = _rejections(a, b)
    assert sequential.mean() >= 0.85


def test_looks_agree_with_the_vectorised_core() -> None:
    rng = np.random.default_rng(14)
    a, b = rng.normal(0.0, 1.0, (1, N_PER_ARM)), rng.normal(0.1, 1.0, (1, N_PER_ARM))
    mean_a, var_a = _moments_at_looks(a)
    mean_b, var_b = _moments_at_looks(b)
    variance = var_a / LOOKS + var_b / LOOKS
    tau2 = mixing_variance(var_a, var_b, N_PER_ARM, ALPHA)
    log_lr = mixture_log_likelihood_ratio(mean_b - mean_a, variance, tau2)[0]
    test = SequentialTest(horizon_per_arm=N_PER_ARM, alpha=ALPHA)
    arm_a, arm_b = MeanAccumulator(), MeanAccumulator()
    for index, look in enumerate(LOOKS):
        chunk = slice(look - PEEK_EVERY, look)
        result = test.look(arm_a.update(a[0, chunk]), arm_b.update(b[0, chunk]))
        expected = min(1.0, float(np.exp(-log_lr[: index + 1].max())))
        assert result.p_value == pytest.approx(expected, rel=1e-9)
        assert result.n_a == result.n_b == look


def test_confidence_sequence_edge_is_where_the_likelihood_ratio_hits_one_over_alpha() -> None:
    result = msprt_test(
        MeanAccumulator.from_values(np.linspace(0, 1, 200)),
        MeanAccumulator.from_values(np.linspace(0.2, 1.3, 180)),
        horizon_per_arm=500,
    )
    assert result.ci is not None
    assert result.difference is not None
    assert result.tau2 is not None
    variance = float(np.var(np.linspace(0, 1, 200), ddof=1) / 200) + float(
        np.var(np.linspace(0.2, 1.3, 180), ddof=1) / 180
    )
    for edge in result.ci:
        log_lr = mixture_log_likelihood_ratio(result.difference - edge, variance, result.tau2)
        assert log_lr == pytest.approx(math.log(1 / 0.05), rel=1e-9)
    # One look: the sequence excludes 0 exactly when the always-valid p-value is <= alpha.
    assert (result.ci[0] > 0) == (result.p_value <= 0.05)


def test_optimal_mixing_ratio_minimises_the_width() -> None:
    ratio = optimal_mixing_ratio(0.05)
    widths = [confidence_half_width(1.0, r, 0.05) for r in (ratio * 0.9, ratio, ratio * 1.1)]
    assert widths[1] < widths[0]
    assert widths[1] < widths[2]


def test_running_p_value_never_rises_and_the_interval_never_widens() -> None:
    rng = np.random.default_rng(15)
    test = SequentialTest(horizon_per_arm=1_000, min_samples_per_arm=30)
    a, b = MeanAccumulator(), MeanAccumulator()
    previous_p, previous_width = 1.0, math.inf
    for _ in range(30):
        result = test.look(a.update(rng.normal(0, 1, 40)), b.update(rng.normal(0.05, 1, 40)))
        assert result.ci is not None
        width = result.ci[1] - result.ci[0]
        assert result.p_value <= previous_p
        assert width <= previous_width + 1e-12
        previous_p, previous_width = result.p_value, width


def test_proportion_arms_use_bernoulli_variance() -> None:
    a, b = ProportionAccumulator(4_000, 400), ProportionAccumulator(4_000, 520)
    result = msprt_test(a, b, horizon_per_arm=4_000)
    variance = 0.1 * 0.9 / 4_000 + 0.13 * 0.87 / 4_000
    tau2 = optimal_mixing_ratio(0.05) * (0.1 * 0.9 + 0.13 * 0.87) / 4_000
    expected = math.exp(-mixture_log_likelihood_ratio(0.03, variance, tau2))
    assert result.p_value == pytest.approx(expected, rel=1e-9)
    assert result.decision == "b_wins"
    assert msprt_test(a, b, higher_is_better=False, horizon_per_arm=4_000).decision == "a_wins"


def test_an_explicit_tau2_is_used() -> None:
    a, b = MeanAccumulator(100, 0.0, 99.0), MeanAccumulator(100, 0.5, 99.0)
    result = msprt_test(a, b, tau2=0.25)
    expected = math.exp(-mixture_log_likelihood_ratio(0.5, 0.02, 0.25))
    assert result.tau2 == 0.25
    assert result.p_value == pytest.approx(expected, rel=1e-12)


def test_too_few_samples_waits_with_a_reason() -> None:
    result = msprt_test(MeanAccumulator(), MeanAccumulator.from_values([1.0] * 40))
    assert (result.decision, result.p_value, result.ci) == ("inconclusive", 1.0, None)
    assert result.estimate_a is None
    assert result.note == "waiting for 30 samples per arm before deciding (a has 0, b has 40)"


def test_zero_variance_and_all_successes_are_clear() -> None:
    same = msprt_test(ProportionAccumulator(50, 50), ProportionAccumulator(60, 60))
    assert (same.p_value, same.decision, same.ci) == (1.0, "inconclusive", (0.0, 0.0))
    apart = msprt_test(ProportionAccumulator(50, 0), ProportionAccumulator(60, 60))
    assert (apart.p_value, apart.decision) == (0.0, "b_wins")
    json.dumps(apart.to_dict(), allow_nan=False)


def test_state_round_trips_through_json() -> None:
    rng = np.random.default_rng(16)
    test = SequentialTest(horizon_per_arm=500, alpha=0.1)
    a, b = MeanAccumulator.from_values(rng.normal(0, 1, 300)), MeanAccumulator()
    test.look(a, b.update(rng.normal(0.2, 1, 300)))
    restored = SequentialTest.from_dict(json.loads(json.dumps(test.to_dict())))
    assert restored.get_params() == test.get_params()
    assert (restored.p_value_, restored.ci_, restored.n_a_) == (test.p_value_, test.ci_, 300)
    more_a, more_b = a.update(rng.normal(0, 1, 50)), b.update(rng.normal(0.2, 1, 50))
    assert restored.look(more_a, more_b) == test.look(more_a, more_b)


def test_shrinking_arms_are_refused() -> None:
    test = SequentialTest()
    test.look(MeanAccumulator(100, 0.0, 99.0), MeanAccumulator(100, 0.1, 99.0))
    with pytest.raises(InvalidArgumentError, match="the arms shrank since the last look"):
        test.look(MeanAccumulator(50, 0.0, 49.0), MeanAccumulator(100, 0.1, 99.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 1.5}, "alpha must be a number strictly between 0 and 1"),
        ({"horizon_per_arm": 0}, "horizon_per_arm must be >= 1"),
        ({"min_samples_per_arm": 1}, "min_samples_per_arm must be >= 2"),
        ({"tau2": -1.0}, "tau2 must be a positive finite mixing variance"),
    ],
)
def test_settings_are_checked(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        SequentialTest(**kwargs)  # type: ignore[arg-type]


def test_mixed_arm_kinds_and_bad_state_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="both arms must be MeanAccumulator or both"):
        msprt_test(MeanAccumulator(), ProportionAccumulator())
    with pytest.raises(InvalidArgumentError, match="needs 'params' and 'state'"):
        SequentialTest.from_dict({"params": {}})


def test_an_earlier_stronger_look_keeps_deciding() -> None:
    test = SequentialTest(horizon_per_arm=200)
    strong = test.look(MeanAccumulator(100, 0.0, 99.0), MeanAccumulator(100, 0.6, 99.0))
    assert strong.decision == "b_wins"
    later = test.look(MeanAccumulator(200, 0.0, 199.0), MeanAccumulator(200, 0.01, 199.0))
    assert later.p_value == strong.p_value
    assert later.decision == "b_wins"
    assert later.ci is not None
    assert later.difference is not None
    assert not later.ci[0] <= later.difference <= later.ci[1]  # keeps the intersection
