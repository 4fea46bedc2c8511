"""Rollout step analysis: Flagger defaults, wait before enough traffic, reasons per check."""

from __future__ import annotations

import json
import math

import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.stats import psi_from_counts
from conveyor.rollout.analysis import (
    AnalysisThresholds,
    RolloutWindow,
    StepAnalysis,
    analyze_step,
)
from conveyor.rollout.latency import LatencyHistogram

PRIMARY = RolloutWindow(requests=10_000, errors=20, prediction_counts=[5_000, 3_000, 2_000])
FAST = LatencyHistogram((0.05, 0.1, 0.5, 1.0, math.inf), (900, 95, 5, 0, 0))


def _candidate(**changes: object) -> RolloutWindow:
    fields: dict[str, object] = {
        "requests": 1_000,
        "errors": 2,
        "latency_s": FAST,
        "prediction_counts": [505, 295, 200],
    }
    return RolloutWindow(**{**fields, **changes})  # type: ignore[arg-type]


def _check(analysis: StepAnalysis, name: str) -> tuple[object, object, str]:
    check = next(c for c in analysis.checks if c.name == name)
    return check.observed, check.threshold, check.verdict


def test_a_healthy_candidate_passes_every_default_check() -> None:
    analysis = analyze_step(_candidate(), PRIMARY)
    assert analysis.verdict == "pass"
    assert [c.verdict for c in analysis.checks] == ["pass"] * 4
    assert _check(analysis, "success_rate") == (0.998, 0.99, "pass")
    assert _check(analysis, "p99_latency")[1:] == (0.5, "pass")
    psi = psi_from_counts([5_000, 3_000, 2_000], [505, 295, 200])
    assert _check(analysis, "prediction_psi") == (pytest.approx(psi), 0.2, "pass")
    assert analysis.reason.startswith("pass: 1000 requests >= 100; success rate 99.80% >= 99.00%")


def test_too_few_requests_waits_whatever_the_other_checks_say() -> None:
    analysis = analyze_step(_candidate(requests=40, errors=20), PRIMARY)
    assert analysis.verdict == "wait"
    assert analysis.reason == "wait: 40 of 100 requests needed before deciding"
    assert _check(analysis, "success_rate")[2] == "fail"  # still reported


@pytest.mark.parametrize(
    ("changes", "check", "reason"),
    [
        ({"errors": 15}, "success_rate", "success rate 98.50% < 99.00%"),
        (
            {"latency_s": LatencyHistogram((0.5, 1.0, math.inf), (980, 20, 0))},
            "p99_latency",
            "p99 latency 0.75 s > 0.5 s",
        ),
        ({"prediction_counts": [100, 300, 600]}, "prediction_psi", "prediction PSI"),
    ],
)
def test_each_failing_check_fails_the_step_with_its_reason(
    changes: dict[str, object], check: str, reason: str
) -> None:
    analysis = analyze_step(_candidate(**changes), PRIMARY)
    assert analysis.verdict == "fail"
    assert _check(analysis, check)[2] == "fail"
    assert analysis.reason.startswith(f"fail: {reason}")
    assert [c.name for c in analysis.checks if c.verdict == "fail"] == [check]


def test_several_failures_are_all_listed() -> None:
    analysis = analyze_step(_candidate(errors=100, prediction_counts=[0, 0, 1_000]), PRIMARY)
    assert analysis.reason.count(";") == 1
    assert "success rate 90.00% < 99.00%" in analysis.reason
    assert "prediction PSI" in analysis.reason


def test_latency_samples_work_like_histograms() -> None:
    slow = [0.1] * 980 + [0.9] * 20
    analysis = analyze_step(_candidate(latency_s=slow), PRIMARY)
    assert _check(analysis, "p99_latency") == (pytest.approx(0.9), 0.5, "fail")


def test_missing_data_fails_an_enabled_check_and_says_how_to_fix_it() -> None:
    analysis = analyze_step(_candidate(latency_s=None), RolloutWindow(requests=0))
    assert analysis.verdict == "fail"
    assert "no latency recorded for the candidate; record it or set max_p99_latency_s=None" in (
        analysis.reason
    )
    assert "no prediction counts for the primary" in analysis.reason


def test_thresholds_are_configurable_and_none_turns_a_check_off() -> None:
    limits = AnalysisThresholds(
        min_success_rate=0.9, max_p99_latency_s=None, max_prediction_psi=None, min_requests=10
    )
    analysis = analyze_step(
        _candidate(errors=50, latency_s=None), RolloutWindow(requests=0), limits
    )
    assert analysis.verdict == "pass"
    assert [c.verdict for c in analysis.checks] == ["pass", "pass", "skip", "skip"]
    assert _check(analysis, "success_rate") == (0.95, 0.9, "pass")


def test_analysis_to_dict_is_strict_json_for_the_audit_log() -> None:
    data = json.loads(json.dumps(analyze_step(_candidate(), PRIMARY).to_dict(), allow_nan=False))
    assert data["verdict"] == "pass"
    assert data["checks"][1] == {
        "name": "success_rate",
        "observed": 0.998,
        "threshold": 0.99,
        "verdict": "pass",
        "reason": "success rate 99.80% >= 99.00%",
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_success_rate": 99}, r"min_success_rate must be a share in \[0, 1\]"),
        ({"max_p99_latency_s": 0}, "max_p99_latency_s must be positive seconds"),
        ({"max_prediction_psi": -0.1}, "max_prediction_psi must be a finite number >= 0"),
        ({"min_requests": 0}, "min_requests must be >= 1"),
    ],
)
def test_thresholds_are_checked(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        AnalysisThresholds(**kwargs)  # type: ignore[arg-type]


def test_windows_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match=r"errors \(5\) cannot exceed requests \(4\)"):
        RolloutWindow(requests=4, errors=5)
    with pytest.raises(InvalidArgumentError, match="reference_counts has 3 bins"):
        analyze_step(_candidate(prediction_counts=[1, 2]), PRIMARY)
