"""Prometheus text exposition (format 0.0.4) of monitor signals and alert states.

Gauges, one sample per series::

    conveyor_monitor_signal{monitor="churn",signal="psi",label="age"} 0.31
    conveyor_monitor_window_start_seconds{monitor="churn"} 1764547200
    conveyor_monitor_alert_state{monitor="churn",rule="psi(x) > 0.2",label="x",state="firing"} 1

Every state of a series is exported (1 for the current one, 0 for the others), the usual shape
for enum-like states, so ``max by (rule) (...{state="firing"})`` works in alert rules.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

STATES = ("inactive", "pending", "firing", "resolved")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items()) + "}"


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render(
    latest: Iterable[Mapping[str, Any]], alerts: Mapping[str, Sequence[Mapping[str, Any]]]
) -> str:
    """Render ``Monitors.latest()`` and ``Monitors.all_alert_statuses()`` as exposition text."""
    lines = [
        "# HELP conveyor_monitor_signal Signal value of the monitor's last evaluated window.",
        "# TYPE conveyor_monitor_signal gauge",
    ]
    starts: dict[str, int] = {}
    for row in latest:
        starts[row["name"]] = int(row["start_ms"])
        pairs = {"monitor": row["name"], "signal": row["signal"], "label": row["label"]}
        lines.append(f"conveyor_monitor_signal{_labels(pairs)} {_number(row['value'])}")
    lines += [
        "# HELP conveyor_monitor_window_start_seconds Start of the last evaluated window.",
        "# TYPE conveyor_monitor_window_start_seconds gauge",
    ]
    lines += [
        f"conveyor_monitor_window_start_seconds{_labels({'monitor': name})} {start / 1000:g}"
        for name, start in sorted(starts.items())
    ]
    lines += [
        "# HELP conveyor_monitor_alert_state Alert state of a rule on a label (1 = current).",
        "# TYPE conveyor_monitor_alert_state gauge",
    ]
    for name, statuses in sorted(alerts.items()):
        for status in statuses:
            for state in STATES:
                pairs = {
                    "monitor": name,
                    "rule": str(status["rule"]),
                    "label": str(status["label"]),
                    "state": state,
                }
                current = 1 if status["state"] == state else 0
                lines.append(f"conveyor_monitor_alert_state{_labels(pairs)} {current}")
    return "\n".join(lines) + "\n"
