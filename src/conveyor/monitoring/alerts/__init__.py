"""Alert rules over monitor signals: a small rule language, a state machine with hysteresis and
silences, and notifiers (signed webhook, Slack-compatible webhook, SMTP email).

The pieces consume plain per-window values, ``{signal: {label: value}}``, and know nothing of
the statistics that produced them, the store or the server::

    rules = [parse_rule("psi(*) > 0.25 for 3 windows clear below 0.2")]
    evaluator = AlertEvaluator(rules)
    report = evaluator.evaluate({"psi": {"age": 0.31}}, window_start, window_end, at=now_ms)
    deliveries = dispatch(report.events, [WebhookNotifier(url, secret)])
"""

from conveyor.monitoring.alerts.evaluation import (
    AlertEvaluator,
    SeriesStatus,
    Window,
    WindowReport,
    WindowValues,
)
from conveyor.monitoring.alerts.events import AlertEvent, AlertState
from conveyor.monitoring.alerts.rules import AlertRule, Comparator, Severity, parse_rule
from conveyor.monitoring.alerts.silences import Silence, find_silence

__all__ = [
    "AlertEvaluator",
    "AlertEvent",
    "AlertRule",
    "AlertState",
    "Comparator",
    "SeriesStatus",
    "Severity",
    "Silence",
    "Window",
    "WindowReport",
    "WindowValues",
    "find_silence",
    "parse_rule",
]
