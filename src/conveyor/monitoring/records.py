"""What the monitor service returns: a monitor's definition, window results, evaluations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conveyor.monitoring.alerts import AlertEvent
from conveyor.monitoring.alerts.notify import Delivery
from conveyor.monitoring.notifiers import NotifierConfig
from conveyor.monitoring.window_signals import Signals


@dataclass(frozen=True)
class Monitor:
    """A monitor's definition and progress."""

    name: str
    deployment: str | None
    window_s: int
    rules: tuple[str, ...]
    notifiers: tuple[NotifierConfig, ...]
    reference_digest: str
    evaluated_until: int
    created_time: int
    columns: tuple[str, ...] = ()
    task: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Render for JSON (notifier secrets are never shown)."""
        return {
            "name": self.name,
            "deployment": self.deployment,
            "window_s": self.window_s,
            "rules": list(self.rules),
            "notifiers": [n.public() for n in self.notifiers],
            "reference_digest": self.reference_digest,
            "evaluated_until": self.evaluated_until,
            "created_time": self.created_time,
            "columns": list(self.columns),
            "task": self.task,
        }


@dataclass
class WindowResult:
    """What ``evaluate`` computed for one closed window."""

    start_ms: int
    end_ms: int
    rows: int
    signals: Signals
    events: list[AlertEvent] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Render for JSON."""
        return {
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "rows": self.rows,
            "signals": self.signals,
            "events": [e.to_dict() for e in self.events],
        }


@dataclass
class Evaluation:
    """The outcome of one ``evaluate`` call."""

    windows: list[WindowResult]
    deliveries: list[Delivery]

    def to_dict(self) -> dict[str, Any]:
        """Render for JSON."""
        return {
            "windows": [w.to_dict() for w in self.windows],
            "deliveries": [d.to_dict() for d in self.deliveries],
        }
