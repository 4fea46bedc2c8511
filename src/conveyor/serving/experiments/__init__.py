"""Shadow and A/B experiments: the predictions log, feedback, reports and auto-promotion.

Replicas log the predictions of deployments under experiment (``ExperimentSink``); callers post
outcomes and labels by request id (``record_feedback``); ``experiment_report`` compares shadows
with the live answers and A/B arms with each other; ``promote_ab_winners`` promotes a winner
when a policy asks for it.
"""

from conveyor.serving.experiments.arms import TESTS, ABOptions
from conveyor.serving.experiments.autopromote import promote_ab_winners
from conveyor.serving.experiments.feedback import check_feedback, record_feedback
from conveyor.serving.experiments.report import TASKS, experiment_report
from conveyor.serving.experiments.sink import ExperimentSink, prediction_json

__all__ = [
    "TASKS",
    "TESTS",
    "ABOptions",
    "ExperimentSink",
    "check_feedback",
    "experiment_report",
    "prediction_json",
    "promote_ab_winners",
    "record_feedback",
]
