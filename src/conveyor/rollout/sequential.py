"""Always-valid sequential A/B test: the mixture sequential probability ratio test (mSPRT).

A fixed-horizon test read repeatedly while data arrives finds a "winner" far more often than
``alpha`` under no effect. The mSPRT of Johari, Koomen, Pekelis & Walsh (2017), "Peeking at
A/B tests: why it matters, and what to do about it" (KDD; the method behind Optimizely's and
Eppo's sequential testing), integrates the likelihood ratio of the difference of means against
a normal prior ``N(0, tau2)``. For the estimated difference ``d`` with variance
``V = s_a^2/n_a + s_b^2/n_b``:

    Lambda = sqrt(V / (V + tau2)) * exp(tau2 d^2 / (2 V (V + tau2)))

Under no difference ``Lambda`` is a nonnegative martingale, so by Ville's inequality
``P(Lambda ever >= 1/alpha) <= alpha``: ``p = min(1, 1/Lambda)`` (its running minimum) is a
p-value valid at any look, and ``{theta : Lambda(theta) < 1/alpha}`` is a confidence sequence,
``d +- sqrt(2 V (V + tau2) / tau2 * (ln(1/alpha) + ln((V + tau2) / V) / 2))``.

Variances are plugged in from the data (an asymptotically valid approximation, as in the
paper), and by default ``tau2`` is sized to ``horizon_per_arm``: the mixture whose boundary is
tightest when each arm holds that many samples (Howard, Ramdas, McAuliffe & Sekhon 2021,
"Time-uniform, nonparametric, nonasymptotic confidence sequences", section 3.5).

>>> import numpy as np
>>> from conveyor.rollout.accumulators import MeanAccumulator
>>> test = SequentialTest(horizon_per_arm=1_000)
>>> rng = np.random.default_rng(7)
>>> a, b = MeanAccumulator(), MeanAccumulator()
>>> for _ in range(20):  # peek after every 50 values per arm
...     result = test.look(a.update(rng.normal(0.0, 1, 50)), b.update(rng.normal(0.3, 1, 50)))
>>> result.decision, result.n_b, result.p_value < 0.05
('b_wins', 1000, True)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.rollout._json_safe import json_safe
from conveyor.rollout._validation import FloatArray, check_count, check_open_unit
from conveyor.rollout.accumulators import Accumulator, MeanAccumulator, ProportionAccumulator

Decision = Literal["a_wins", "b_wins", "inconclusive"]


@dataclass(frozen=True)
class SequentialResult:
    """One look at a sequential test; ``ci`` is the confidence sequence of ``b - a``.

    ``p_value`` is always valid: stopping at the first look where it falls to ``alpha`` keeps
    the false-positive rate at most ``alpha``, however often one looks.
    """

    n_a: int
    n_b: int
    estimate_a: float | None
    estimate_b: float | None
    difference: float | None
    ci: tuple[float, float] | None
    confidence: float
    p_value: float
    decision: Decision
    tau2: float | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict (infinite bounds become ``None``)."""
        result: dict[str, Any] = json_safe(self)
        return result


@overload
def mixture_log_likelihood_ratio(difference: float, variance: float, tau2: float) -> float: ...
@overload
def mixture_log_likelihood_ratio(
    difference: FloatArray, variance: FloatArray | float, tau2: FloatArray | float
) -> FloatArray: ...
def mixture_log_likelihood_ratio(difference: Any, variance: Any, tau2: Any) -> Any:
    """Return ``ln Lambda`` of the normal-mixture SPRT for no difference (vectorised).

    >>> round(mixture_log_likelihood_ratio(0.2, 0.01, 0.04), 6)
    0.795281
    """
    total = variance + tau2
    log_lr = 0.5 * np.log(variance / total) + tau2 * difference**2 / (2 * variance * total)
    return _scalar_or_array(log_lr)


@overload
def confidence_half_width(variance: float, tau2: float, alpha: float) -> float: ...
@overload
def confidence_half_width(
    variance: FloatArray, tau2: FloatArray | float, alpha: float
) -> FloatArray: ...
def confidence_half_width(variance: Any, tau2: Any, alpha: float) -> Any:
    """Half-width of the ``1 - alpha`` confidence sequence around the difference (vectorised)."""
    total = variance + tau2
    log_term = math.log(1 / alpha) + 0.5 * np.log(total / variance)
    return _scalar_or_array(np.sqrt(2 * variance * total / tau2 * log_term))


def optimal_mixing_ratio(alpha: float) -> float:
    """Return ``r = tau2 / V`` minimising the confidence sequence's width at a given ``V``.

    Setting the derivative of the squared half-width to zero gives ``r = 2 ln(1/alpha) +
    ln(1 + r)``, solved by fixed-point iteration (a contraction: the slope is ``1/(1 + r)``).

    >>> round(optimal_mixing_ratio(0.05), 4)
    8.212
    """
    check_open_unit(alpha, "alpha")
    target = 2 * math.log(1 / alpha)
    ratio = target
    for _ in range(100):
        ratio, previous = target + math.log1p(ratio), ratio
        if abs(ratio - previous) < 1e-12:
            break
    return ratio


def mixing_variance(variance_a: Any, variance_b: Any, horizon_per_arm: int, alpha: float) -> Any:
    """Default ``tau2``: tightest boundary when each arm holds ``horizon_per_arm`` samples.

    ``tau2 = r * (s_a^2 + s_b^2) / horizon_per_arm`` with ``r = optimal_mixing_ratio(alpha)``;
    it scales with the data's variance, so the test is the same on any outcome's units.
    """
    return optimal_mixing_ratio(alpha) * (variance_a + variance_b) / horizon_per_arm


def msprt_test(
    a: Accumulator,
    b: Accumulator,
    *,
    alpha: float = 0.05,
    horizon_per_arm: int = 10_000,
    tau2: float | None = None,
    min_samples_per_arm: int = 30,
    higher_is_better: bool = True,
) -> SequentialResult:
    """Look once at an mSPRT comparing arm ``b`` with arm ``a`` (means or proportions).

    Both arms are ``MeanAccumulator`` (per-request numbers) or both ``ProportionAccumulator``
    (binary outcomes, variance ``p (1 - p)``). Below ``min_samples_per_arm`` the plugged-in
    variances are too noisy to trust and the result is inconclusive. ``SequentialTest``
    repeats this across looks, keeping the running minimum p-value and the intersection of
    the confidence sequences.
    """
    settings = _Settings.checked(alpha, horizon_per_arm, tau2, min_samples_per_arm)
    (n_a, mean_a, var_a), (n_b, mean_b, var_b) = _moments(a, b)
    result = functools.partial(
        SequentialResult,
        n_a=n_a,
        n_b=n_b,
        estimate_a=mean_a if n_a else None,
        estimate_b=mean_b if n_b else None,
        confidence=1 - alpha,
    )
    if min(n_a, n_b) < settings.min_samples_per_arm:
        note = (
            f"waiting for {settings.min_samples_per_arm} samples per arm before deciding "
            f"(a has {n_a}, b has {n_b})"
        )
        return result(
            difference=None, ci=None, p_value=1.0, decision="inconclusive", tau2=None, note=note
        )
    difference = mean_b - mean_a
    variance = var_a / n_a + var_b / n_b
    if variance == 0:
        p_value = 1.0 if difference == 0 else 0.0
        return result(
            difference=difference,
            ci=(difference, difference),
            p_value=p_value,
            decision=_decide(difference, p_value, alpha, higher_is_better),
            tau2=None,
            note="both arms have zero variance, so their difference is exact",
        )
    mix = settings.tau2 or mixing_variance(var_a, var_b, settings.horizon_per_arm, alpha)
    p_value = min(1.0, math.exp(-mixture_log_likelihood_ratio(difference, variance, mix)))
    half = confidence_half_width(variance, mix, alpha)
    decision = _decide(difference, p_value, alpha, higher_is_better)
    return result(
        difference=difference,
        ci=(difference - half, difference + half),
        p_value=p_value,
        decision=decision,
        tau2=mix,
        note=_note(decision, mean_a, mean_b, p_value, alpha),
    )


class SequentialTest:
    """An mSPRT looked at repeatedly: keeps the running p-value and confidence sequence.

    Pass the arms' accumulators (merged across replicas) to ``look`` whenever a decision is
    wanted; the arms only grow between looks. ``to_dict``/``from_dict`` persist the state.
    """

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        horizon_per_arm: int = 10_000,
        tau2: float | None = None,
        min_samples_per_arm: int = 30,
        higher_is_better: bool = True,
    ) -> None:
        self.alpha = alpha
        self.horizon_per_arm = horizon_per_arm
        self.tau2 = tau2
        self.min_samples_per_arm = min_samples_per_arm
        self.higher_is_better = higher_is_better
        _Settings.checked(alpha, horizon_per_arm, tau2, min_samples_per_arm)
        self.p_value_ = 1.0
        self.ci_: tuple[float, float] | None = None
        self.n_a_ = 0
        self.n_b_ = 0

    def look(self, a: Accumulator, b: Accumulator) -> SequentialResult:
        """Test the arms as they stand now and fold the result into the running state."""
        (n_a, *_), (n_b, *_) = _moments(a, b)
        if n_a < self.n_a_ or n_b < self.n_b_:
            msg = (
                f"the arms shrank since the last look (a {self.n_a_} -> {n_a}, b {self.n_b_} "
                f"-> {n_b}); pass cumulative arms, or start a new SequentialTest"
            )
            raise InvalidArgumentError(msg, field="a" if n_a < self.n_a_ else "b")
        current = msprt_test(a, b, **self.get_params())
        self.n_a_, self.n_b_ = n_a, n_b
        self.p_value_ = min(self.p_value_, current.p_value)
        self.ci_ = _intersect(self.ci_, current.ci)
        if current.difference is None or self.p_value_ == current.p_value:
            return dataclasses.replace(current, ci=self.ci_)
        # An earlier look saw stronger evidence: the running minimum decides.
        decision = _decide(current.difference, self.p_value_, self.alpha, self.higher_is_better)
        note = _note(decision, current.estimate_a, current.estimate_b, self.p_value_, self.alpha)
        return dataclasses.replace(
            current, p_value=self.p_value_, ci=self.ci_, decision=decision, note=note
        )

    def get_params(self) -> dict[str, Any]:
        """Return the configuration given to ``__init__``."""
        return {
            "alpha": self.alpha,
            "horizon_per_arm": self.horizon_per_arm,
            "tau2": self.tau2,
            "min_samples_per_arm": self.min_samples_per_arm,
            "higher_is_better": self.higher_is_better,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return configuration and running state as JSON-ready values."""
        state = {"p_value": self.p_value_, "ci": self.ci_, "n_a": self.n_a_, "n_b": self.n_b_}
        result: dict[str, Any] = json_safe({"params": self.get_params(), "state": state})
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SequentialTest:
        """Rebuild a test from ``to_dict``'s output."""
        try:
            test = cls(**data["params"])
            state = data["state"]
            test.p_value_ = float(state["p_value"])
            test.ci_ = (
                None if state["ci"] is None else (float(state["ci"][0]), float(state["ci"][1]))
            )
            test.n_a_ = check_count(state["n_a"], "n_a")
            test.n_b_ = check_count(state["n_b"], "n_b")
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            msg = f"a stored SequentialTest needs 'params' and 'state' as to_dict writes ({exc!r})"
            raise InvalidArgumentError(msg, field="data") from exc
        return test


@dataclass(frozen=True)
class _Settings:
    horizon_per_arm: int
    tau2: float | None
    min_samples_per_arm: int

    @classmethod
    def checked(
        cls, alpha: float, horizon_per_arm: int, tau2: float | None, min_samples_per_arm: int
    ) -> _Settings:
        check_open_unit(alpha, "alpha")
        if check_count(horizon_per_arm, "horizon_per_arm") < 1:
            msg = "horizon_per_arm must be >= 1: the samples per arm the test is sized for"
            raise InvalidArgumentError(msg, field="horizon_per_arm")
        if check_count(min_samples_per_arm, "min_samples_per_arm") < 2:
            msg = "min_samples_per_arm must be >= 2 so that each arm has a variance"
            raise InvalidArgumentError(msg, field="min_samples_per_arm")
        if tau2 is not None and not (isinstance(tau2, int | float) and 0 < tau2 < math.inf):
            msg = f"tau2 must be a positive finite mixing variance or None, got {tau2!r}"
            raise InvalidArgumentError(msg, field="tau2")
        return cls(horizon_per_arm, tau2, min_samples_per_arm)


def _scalar_or_array(value: Any) -> Any:
    return float(value) if np.ndim(value) == 0 else value


def _moments(a: Accumulator, b: Accumulator) -> tuple[tuple[int, float, float], ...]:
    """Return ``(n, mean, variance)`` per arm; both arms must be of one kind."""
    if isinstance(a, ProportionAccumulator) and isinstance(b, ProportionAccumulator):
        return tuple((arm.trials, arm.rate, arm.rate * (1 - arm.rate)) for arm in (a, b))
    if isinstance(a, MeanAccumulator) and isinstance(b, MeanAccumulator):
        return tuple((arm.count, arm.mean, arm.variance) for arm in (a, b))
    msg = (
        "both arms must be MeanAccumulator or both ProportionAccumulator, got "
        f"{type(a).__name__} and {type(b).__name__}"
    )
    raise InvalidArgumentError(msg, field="b")


def _decide(difference: float, p_value: float, alpha: float, higher_is_better: bool) -> Decision:
    # p <= alpha is exactly Ville's bound P(Lambda >= 1/alpha) <= alpha.
    if p_value > alpha or difference == 0:
        return "inconclusive"
    return "b_wins" if (difference > 0) == higher_is_better else "a_wins"


def _note(
    decision: Decision,
    estimate_a: float | None,
    estimate_b: float | None,
    p_value: float,
    alpha: float,
) -> str:
    summary = f"b {estimate_b:.6g} vs a {estimate_a:.6g}, always-valid p={p_value:.3g}"
    if decision == "inconclusive":
        return f"inconclusive at alpha={alpha:g} so far: {summary}; keep collecting"
    return f"{decision.replace('_', ' ')} at alpha={alpha:g}: {summary}"


def _intersect(
    running: tuple[float, float] | None, current: tuple[float, float] | None
) -> tuple[float, float] | None:
    """Intersect confidence sequences; an empty intersection keeps the current interval."""
    if running is None or current is None:
        return current or running
    low, high = max(running[0], current[0]), min(running[1], current[1])
    return (low, high) if low <= high else current
