"""Rollout step analysis: compare a candidate's window with the primary's, Flagger-style.

At each traffic step the candidate must have served enough requests, keep its success rate
and p99 latency within limits (Flagger's defaults: >= 99 % success, p99 <= 500 ms), and
predict like the primary (PSI of the prediction distributions <= 0.2). The verdict is
``"wait"`` until the request count is reached, then ``"fail"`` if any enabled check fails,
else ``"pass"``; every check carries its observed value, threshold and reason.

>>> primary = RolloutWindow(requests=5_000, errors=10, prediction_counts=[500, 300, 200])
>>> candidate = RolloutWindow(
...     requests=1_000, errors=3, latency_s=[0.02] * 990 + [0.3] * 10,
...     prediction_counts=[98, 62, 40],
... )
>>> analysis = analyze_step(candidate, primary)
>>> analysis.verdict
'pass'
>>> analysis.reason
'pass: 1000 requests >= 100; success rate 99.70% >= 99.00%; p99 latency 0.0228 s <= 0.5 s; prediction PSI 0.00053 <= 0.2'
"""  # noqa: E501 - the doctest's expected output is one line

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.rollout._json_safe import json_safe
from conveyor.rollout._validation import check_count
from conveyor.rollout.latency import LatencyInput, latency_quantile
from conveyor.rollout.prediction_shift import prediction_shift_from_counts

CheckName = Literal["request_count", "success_rate", "p99_latency", "prediction_psi"]
CheckVerdict = Literal["pass", "fail", "wait", "skip"]
StepVerdict = Literal["pass", "fail", "wait"]


@dataclass(frozen=True)
class AnalysisThresholds:
    """Limits a candidate must meet at each step; ``None`` turns a check off."""

    min_success_rate: float | None = 0.99
    max_p99_latency_s: float | None = 0.5
    max_prediction_psi: float | None = 0.2
    min_requests: int = 100

    def __post_init__(self) -> None:
        rate = self.min_success_rate
        if rate is not None and not (_is_number(rate) and 0 <= rate <= 1):
            msg = f"min_success_rate must be a share in [0, 1] (0.99 = 99 %), got {rate!r}"
            raise InvalidArgumentError(msg, field="min_success_rate")
        latency = self.max_p99_latency_s
        if latency is not None and not (_is_number(latency) and 0 < latency < math.inf):
            msg = f"max_p99_latency_s must be positive seconds (0.5 = 500 ms), got {latency!r}"
            raise InvalidArgumentError(msg, field="max_p99_latency_s")
        psi = self.max_prediction_psi
        if psi is not None and not (_is_number(psi) and 0 <= psi < math.inf):
            msg = f"max_prediction_psi must be a finite number >= 0, got {psi!r}"
            raise InvalidArgumentError(msg, field="max_prediction_psi")
        if check_count(self.min_requests, "min_requests") < 1:
            msg = "min_requests must be >= 1: a step cannot be judged on no traffic"
            raise InvalidArgumentError(msg, field="min_requests")


@dataclass(frozen=True)
class RolloutWindow:
    """What one version served over the analysis window.

    ``prediction_counts`` are the window's prediction counts over bins (or classes) shared with
    the other version, as the serving summaries write them on the reference's edges.
    """

    requests: int
    errors: int = 0
    latency_s: LatencyInput | None = None
    prediction_counts: Any = None

    def __post_init__(self) -> None:
        check_count(self.requests, "requests")
        if check_count(self.errors, "errors") > self.requests:
            msg = f"errors ({self.errors}) cannot exceed requests ({self.requests})"
            raise InvalidArgumentError(msg, field="errors")


@dataclass(frozen=True)
class CheckResult:
    """One check of a step: the observed value against its threshold."""

    name: CheckName
    observed: float | None
    threshold: float | None
    verdict: CheckVerdict
    reason: str


@dataclass(frozen=True)
class StepAnalysis:
    """The step's verdict, every check behind it, and a one-line reason."""

    verdict: StepVerdict
    checks: tuple[CheckResult, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return the analysis as a JSON-ready dict, for the audit log."""
        result: dict[str, Any] = json_safe(self)
        return result


def analyze_step(
    candidate: RolloutWindow,
    primary: RolloutWindow,
    thresholds: AnalysisThresholds | None = None,
) -> StepAnalysis:
    """Decide whether a rollout step passes, fails, or must wait for more requests."""
    limits = thresholds or AnalysisThresholds()
    checks = (
        _request_count(candidate, limits.min_requests),
        _success_rate(candidate, limits.min_success_rate),
        _p99_latency(candidate, limits.max_p99_latency_s),
        _prediction_psi(candidate, primary, limits.max_prediction_psi),
    )
    if checks[0].verdict == "wait":
        return StepAnalysis("wait", checks, f"wait: {checks[0].reason}")
    failed = [check.reason for check in checks if check.verdict == "fail"]
    if failed:
        return StepAnalysis("fail", checks, "fail: " + "; ".join(failed))
    passed = [check.reason for check in checks if check.verdict == "pass"]
    return StepAnalysis("pass", checks, "pass: " + "; ".join(passed))


def _request_count(candidate: RolloutWindow, minimum: int) -> CheckResult:
    observed = float(candidate.requests)
    if candidate.requests < minimum:
        reason = f"{candidate.requests} of {minimum} requests needed before deciding"
        return CheckResult("request_count", observed, minimum, "wait", reason)
    reason = f"{candidate.requests} requests >= {minimum}"
    return CheckResult("request_count", observed, minimum, "pass", reason)


def _success_rate(candidate: RolloutWindow, minimum: float | None) -> CheckResult:
    if minimum is None:
        return CheckResult("success_rate", None, None, "skip", "success rate check is off")
    if candidate.requests == 0:
        return CheckResult("success_rate", None, minimum, "fail", "no requests to rate")
    rate = 1 - candidate.errors / candidate.requests
    ok = rate >= minimum
    reason = f"success rate {rate:.2%} {'>=' if ok else '<'} {minimum:.2%}"
    return CheckResult("success_rate", rate, minimum, "pass" if ok else "fail", reason)


def _p99_latency(candidate: RolloutWindow, maximum: float | None) -> CheckResult:
    if maximum is None:
        return CheckResult("p99_latency", None, None, "skip", "p99 latency check is off")
    p99 = None if candidate.latency_s is None else latency_quantile(candidate.latency_s, 0.99)
    if p99 is None:
        reason = "no latency recorded for the candidate; record it or set max_p99_latency_s=None"
        return CheckResult("p99_latency", None, maximum, "fail", reason)
    ok = p99 <= maximum
    reason = f"p99 latency {p99:.3g} s {'<=' if ok else '>'} {maximum:g} s"
    return CheckResult("p99_latency", p99, maximum, "pass" if ok else "fail", reason)


def _prediction_psi(
    candidate: RolloutWindow, primary: RolloutWindow, maximum: float | None
) -> CheckResult:
    if maximum is None:
        return CheckResult("prediction_psi", None, None, "skip", "prediction PSI check is off")
    for name, window in (("candidate", candidate), ("primary", primary)):
        counts = window.prediction_counts
        if counts is None or not np.sum(counts) > 0:
            reason = (
                f"no prediction counts for the {name} in this window; summarise predictions "
                "or set max_prediction_psi=None"
            )
            return CheckResult("prediction_psi", None, maximum, "fail", reason)
    shift = prediction_shift_from_counts(primary.prediction_counts, candidate.prediction_counts)
    ok = shift.psi <= maximum
    reason = f"prediction PSI {shift.psi:.3g} {'<=' if ok else '>'} {maximum:g}"
    return CheckResult("prediction_psi", shift.psi, maximum, "pass" if ok else "fail", reason)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
