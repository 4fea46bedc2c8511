"""Fixed-horizon A/B tests on per-arm sufficient statistics: two-proportion z and Welch t.

Each test compares arm ``b`` (the candidate) with arm ``a`` (the control): ``difference`` is
``b - a``, and the decision names the better arm when the two-sided p-value is below
``alpha`` (``higher_is_better=False`` for error rates and latencies). Read these once, at the
planned sample size; to look at an experiment while it runs, use ``conveyor.rollout.sequential``.

>>> from conveyor.rollout.accumulators import ProportionAccumulator
>>> control, candidate = ProportionAccumulator(1_000, 100), ProportionAccumulator(1_000, 140)
>>> result = two_proportion_ztest(control, candidate)
>>> result.decision, round(result.p_value, 4), [round(x, 4) for x in result.ci]
('b_wins', 0.0059, [0.0116, 0.0684])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from conveyor.errors import InvalidArgumentError
from conveyor.rollout._json_safe import json_safe
from conveyor.rollout._validation import check_open_unit, check_type
from conveyor.rollout.accumulators import MeanAccumulator, ProportionAccumulator

Decision = Literal["a_wins", "b_wins", "inconclusive"]
TestName = Literal["two_proportion_z", "welch_t"]


@dataclass(frozen=True)
class ABTestResult:
    """Outcome of one A/B test; ``to_dict()`` renders it for the API and the store.

    ``ci`` is the ``confidence`` (``1 - alpha``) interval of ``difference = b - a``. Fields a
    test could not compute (an arm without data) are ``None`` and ``note`` says why;
    ``samples_needed_per_arm`` is set while the result is inconclusive and the data can size it.
    """

    test: TestName
    n_a: int
    n_b: int
    estimate_a: float | None
    estimate_b: float | None
    difference: float | None
    ci: tuple[float, float] | None
    confidence: float
    statistic: float | None
    p_value: float
    df: float | None
    decision: Decision
    samples_needed_per_arm: int | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict (an infinite statistic becomes ``None``)."""
        result: dict[str, Any] = json_safe(self)
        return result


@dataclass(frozen=True)
class _Options:
    alpha: float
    power: float
    minimum_effect: float | None
    higher_is_better: bool


def two_proportion_ztest(
    a: ProportionAccumulator,
    b: ProportionAccumulator,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    minimum_effect: float | None = None,
    higher_is_better: bool = True,
) -> ABTestResult:
    """Two-sided two-proportion z-test of ``b``'s success rate against ``a``'s.

    The test uses the pooled standard error, ``z = (p_b - p_a) / sqrt(P (1 - P) (1/n_a +
    1/n_b))`` with ``P`` the pooled rate, so ``z^2`` is Pearson's chi-square on the 2x2 table
    without Yates' correction; the interval uses the unpooled (Wald) standard error
    ``sqrt(p_a (1 - p_a) / n_a + p_b (1 - p_b) / n_b)`` (Fleiss, Levin & Paik, *Statistical
    Methods for Rates and Proportions*, 3rd ed., sections 2.6 and 4.2). The two can disagree
    at the margin. ``samples_needed_per_arm`` is Fleiss' size (no continuity correction) to
    detect ``minimum_effect``, or else the observed difference, with probability ``power``.
    """
    options = _options(alpha, power, minimum_effect, higher_is_better)
    for name, arm in (("a", a), ("b", b)):
        check_type(arm, ProportionAccumulator, name)
        if arm.trials == 0:
            note = f"arm {name} has no trials yet; the test needs outcomes in both arms"
            return _untestable("two_proportion_z", a.trials, b.trials, options, note)
    p_a, p_b = a.rate, b.rate
    difference = p_b - p_a
    # Lazy: the monitoring statistics import pandas, which a replica's hot path never needs.
    from conveyor.monitoring.stats import z_test_proportions

    statistic, p_value = z_test_proportions(b.successes, b.trials, a.successes, a.trials)
    se = math.sqrt(p_a * (1 - p_a) / a.trials + p_b * (1 - p_b) / b.trials)
    half = _normal_quantile(1 - alpha / 2) * se
    decision = _decide(difference, p_value, options)
    needed = None
    if decision == "inconclusive":
        needed = _proportion_sample_size(p_a, p_b, options)
    note = _note(decision, (p_a, p_b), p_value, needed, options, min(a.trials, b.trials))
    counts = (a.successes, a.trials - a.successes, b.successes, b.trials - b.successes)
    if min(counts) < 5:
        note += "; the normal approximation is rough with fewer than 5 successes or failures"
    return ABTestResult(
        test="two_proportion_z",
        n_a=a.trials,
        n_b=b.trials,
        estimate_a=p_a,
        estimate_b=p_b,
        difference=difference,
        ci=(difference - half, difference + half),
        confidence=1 - alpha,
        statistic=statistic,
        p_value=p_value,
        df=None,
        decision=decision,
        samples_needed_per_arm=needed,
        note=note,
    )


def welch_ttest(
    a: MeanAccumulator,
    b: MeanAccumulator,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    minimum_effect: float | None = None,
    higher_is_better: bool = True,
) -> ABTestResult:
    """Two-sided Welch t-test of ``b``'s mean against ``a``'s, from count, mean and m2.

    ``t = (m_b - m_a) / sqrt(s_a^2 / n_a + s_b^2 / n_b)`` with the Welch-Satterthwaite degrees
    of freedom ``df = (s_a^2/n_a + s_b^2/n_b)^2 / ((s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1))``
    (Welch 1947, "The generalization of Student's problem when several different population
    variances are involved"); the interval is ``(m_b - m_a) +- t_{1-alpha/2, df} * se``. This
    is ``scipy.stats.ttest_ind(b, a, equal_var=False)`` and its ``confidence_interval``.
    ``samples_needed_per_arm`` is the normal-approximation size ``(z_{1-alpha/2} + z_power)^2
    (s_a^2 + s_b^2) / delta^2``.
    """
    options = _options(alpha, power, minimum_effect, higher_is_better)
    for name, arm in (("a", a), ("b", b)):
        check_type(arm, MeanAccumulator, name)
        if arm.count < 2:
            note = f"arm {name} has {arm.count} values; the Welch test needs at least 2 per arm"
            return _untestable("welch_t", a.count, b.count, options, note)
    difference = b.mean - a.mean
    var_a, var_b = a.variance / a.count, b.variance / b.count
    se = math.sqrt(var_a + var_b)
    if se == 0:
        return _zero_variance_welch(a, b, options)
    # Welch-Satterthwaite on variance shares, which cannot underflow for tiny variances.
    share_a, share_b = var_a / (var_a + var_b), var_b / (var_a + var_b)
    df = 1 / (share_a**2 / (a.count - 1) + share_b**2 / (b.count - 1))
    statistic = difference / se
    p_value, t_crit = _student_t_tail(statistic, df, alpha)
    decision = _decide(difference, p_value, options)
    needed = None
    if decision == "inconclusive":
        needed = _mean_sample_size(a.variance + b.variance, difference, options)
    note = _note(decision, (a.mean, b.mean), p_value, needed, options, min(a.count, b.count))
    ci = (difference - t_crit * se, difference + t_crit * se)
    return ABTestResult(
        test="welch_t",
        n_a=a.count,
        n_b=b.count,
        estimate_a=a.mean,
        estimate_b=b.mean,
        difference=difference,
        ci=ci,
        confidence=1 - alpha,
        statistic=statistic,
        p_value=p_value,
        df=df,
        decision=decision,
        samples_needed_per_arm=needed,
        note=note,
    )


def _zero_variance_welch(a: MeanAccumulator, b: MeanAccumulator, options: _Options) -> ABTestResult:
    """Both arms constant: equal means cannot differ, different means differ exactly."""
    difference = b.mean - a.mean
    if difference == 0:
        statistic, p_value = 0.0, 1.0
        note = "both arms are constant and equal; there is no difference to detect"
    else:
        statistic, p_value = math.copysign(math.inf, difference), 0.0
        note = "both arms have zero variance, so their difference is exact"
    decision = _decide(difference, p_value, options)
    return ABTestResult(
        test="welch_t",
        n_a=a.count,
        n_b=b.count,
        estimate_a=a.mean,
        estimate_b=b.mean,
        difference=difference,
        ci=(difference, difference),
        confidence=1 - options.alpha,
        statistic=statistic,
        p_value=p_value,
        df=None,
        decision=decision,
        samples_needed_per_arm=None,
        note=note,
    )


def _options(
    alpha: float, power: float, minimum_effect: float | None, higher_is_better: bool
) -> _Options:
    check_open_unit(alpha, "alpha")
    check_open_unit(power, "power")
    if minimum_effect is not None and not (
        isinstance(minimum_effect, int | float) and math.isfinite(minimum_effect)
    ):
        msg = f"minimum_effect must be a finite number or None, got {minimum_effect!r}"
        raise InvalidArgumentError(msg, field="minimum_effect")
    if minimum_effect is not None and minimum_effect == 0:
        msg = "minimum_effect must be non-zero: the smallest difference worth detecting"
        raise InvalidArgumentError(msg, field="minimum_effect")
    return _Options(alpha, power, minimum_effect, bool(higher_is_better))


def _untestable(test: TestName, n_a: int, n_b: int, options: _Options, note: str) -> ABTestResult:
    return ABTestResult(
        test=test,
        n_a=n_a,
        n_b=n_b,
        estimate_a=None,
        estimate_b=None,
        difference=None,
        ci=None,
        confidence=1 - options.alpha,
        statistic=None,
        p_value=1.0,
        df=None,
        decision="inconclusive",
        samples_needed_per_arm=None,
        note=note,
    )


def _decide(difference: float, p_value: float, options: _Options) -> Decision:
    if p_value >= options.alpha or difference == 0:
        return "inconclusive"
    return "b_wins" if (difference > 0) == options.higher_is_better else "a_wins"


def _note(
    decision: Decision,
    estimates: tuple[float, float],
    p_value: float,
    needed: int | None,
    options: _Options,
    smaller_arm: int,
) -> str:
    estimate_a, estimate_b = estimates
    summary = f"b {estimate_b:.6g} vs a {estimate_a:.6g}, p={p_value:.3g}"
    if decision != "inconclusive":
        return f"{decision.replace('_', ' ')} at alpha={options.alpha:g}: {summary}"
    note = f"inconclusive at alpha={options.alpha:g}: {summary}"
    effect = options.minimum_effect or abs(estimate_b - estimate_a)
    if needed is None:
        return note + "; no observed difference: pass minimum_effect to size the test"
    note += (
        f"; about {needed:,} samples per arm detect a difference of {abs(effect):.6g} "
        f"with {options.power:.0%} power"
    )
    if needed <= smaller_arm:
        note += ", and both arms hold that many: a difference that large is unlikely"
    return note


def _proportion_sample_size(p_a: float, p_b: float, options: _Options) -> int | None:
    """Fleiss' per-arm size for two proportions, without continuity correction."""
    if options.minimum_effect is not None:
        effect = abs(options.minimum_effect)
        p_b = p_a + effect if p_a + effect <= 1 else p_a - effect
        if not 0 <= p_b <= 1:
            return None
    effect = abs(p_b - p_a)
    if effect == 0:
        return None
    z_alpha = _normal_quantile(1 - options.alpha / 2)
    z_power = _normal_quantile(options.power)
    mean = (p_a + p_b) / 2
    root = z_alpha * math.sqrt(2 * mean * (1 - mean))
    root += z_power * math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))
    return max(math.ceil(root**2 / effect**2), 2)


def _mean_sample_size(variance_sum: float, difference: float, options: _Options) -> int | None:
    effect = abs(options.minimum_effect or difference)
    if effect == 0 or variance_sum == 0:
        return None
    z = _normal_quantile(1 - options.alpha / 2) + _normal_quantile(options.power)
    return max(math.ceil(z**2 * variance_sum / effect**2), 2)


def _normal_quantile(q: float) -> float:
    from scipy.special import ndtri  # lazy; ~0.2 us a call against ~50 us for stats.norm.ppf

    return float(ndtri(q))


def _student_t_tail(statistic: float, df: float, alpha: float) -> tuple[float, float]:
    """Two-sided p-value of ``statistic`` and the ``1 - alpha/2`` quantile, Student's t(df)."""
    from scipy.special import stdtr, stdtrit  # lazy, as above

    return float(2 * stdtr(df, -abs(statistic))), float(stdtrit(df, 1 - alpha / 2))
