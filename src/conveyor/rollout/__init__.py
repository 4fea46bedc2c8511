"""Rollout statistics: A/B and sequential tests, champion/challenger reports, step analysis."""

from conveyor.rollout.abtest import ABTestResult, two_proportion_ztest, welch_ttest
from conveyor.rollout.accumulators import MeanAccumulator, ProportionAccumulator
from conveyor.rollout.analysis import AnalysisThresholds, RolloutWindow, analyze_step
from conveyor.rollout.champion import ShadowArm, champion_challenger_report
from conveyor.rollout.sequential import SequentialTest, msprt_test

__all__ = [
    "ABTestResult",
    "AnalysisThresholds",
    "MeanAccumulator",
    "ProportionAccumulator",
    "RolloutWindow",
    "SequentialTest",
    "ShadowArm",
    "analyze_step",
    "champion_challenger_report",
    "msprt_test",
    "two_proportion_ztest",
    "welch_ttest",
]
