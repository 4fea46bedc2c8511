"""Alert states and the event recorded for each state transition."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.alerts.rules import Severity


class AlertState(StrEnum):
    """Where one alert series (a rule on one label) stands.

    ``inactive`` → ``pending`` (breaching, fewer than ``for N`` windows) → ``firing`` →
    ``resolved`` (recovered past the clear threshold; it stays resolved until the next breach).
    """

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


NOTIFY_STATES = frozenset({AlertState.FIRING, AlertState.RESOLVED})
"""Transitions into these states are notified; pending and back-to-inactive are only recorded."""


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One state transition of one alert series, as published on the event bus.

    Times are integer milliseconds since the epoch (Conveyor's clock unit). ``event_id`` is a
    digest of (rule, label, window, state), so evaluating the same window twice yields the same id
    and a store can drop the duplicate.

    Attributes:
        event_id: 32 hex characters, deterministic (see above).
        rule: The rule's name.
        signal: The signal the rule tests.
        label: The column (or ``""`` for a whole-window signal).
        state: The state entered.
        previous_state: The state left.
        value: The value of the window that caused the transition.
        threshold: The threshold crossed: the clear threshold for ``resolved``, else the rule's.
        severity: The rule's severity.
        window_start: Start of the window [start, end) that caused the transition.
        window_end: End of that window.
        at: Evaluation time (the clock passed to the evaluator).
        silenced: A silence matched: the transition is recorded, notifications are suppressed.
        silence_id: The matching silence, if any.
    """

    event_id: str
    rule: str
    signal: str
    label: str
    state: AlertState
    previous_state: AlertState
    value: float
    threshold: float
    severity: Severity
    window_start: int
    window_end: int
    at: int
    silenced: bool = False
    silence_id: str | None = None

    @property
    def is_notifiable(self) -> bool:
        """Tell whether notifiers should send this event (firing or resolved, not silenced)."""
        return self.state in NOTIFY_STATES and not self.silenced

    def to_dict(self) -> dict[str, Any]:
        """Serialise to JSON-ready values (states as their string names)."""
        return {
            "event_id": self.event_id,
            "rule": self.rule,
            "signal": self.signal,
            "label": self.label,
            "state": self.state.value,
            "previous_state": self.previous_state.value,
            "value": self.value,
            "threshold": self.threshold,
            "severity": self.severity,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "at": self.at,
            "silenced": self.silenced,
            "silence_id": self.silence_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvent:
        """Rebuild an event from :meth:`to_dict` output.

        Raises:
            InvalidArgumentError: A key is missing or a state is unknown.
        """
        try:
            fields = {**data}
            fields["state"] = AlertState(data["state"])
            fields["previous_state"] = AlertState(data["previous_state"])
            return cls(**fields)
        except (KeyError, ValueError, TypeError) as exc:
            msg = f"alert event dict is not to_dict() output: {exc}"
            raise InvalidArgumentError(msg, field="event") from None


def event_id(rule: str, label: str, window_start: int, window_end: int, state: str) -> str:
    """Derive the deterministic event id (SHA-256 of the identifying fields, 128 bits shown)."""
    key = json.dumps([rule, label, window_start, window_end, state], separators=(",", ":"))
    return hashlib.sha256(key.encode()).hexdigest()[:32]
