"""Human-readable renderings of an alert event, shared by the Slack and email notifiers."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from conveyor.monitoring.alerts.events import AlertEvent, AlertState


def title(event: AlertEvent) -> str:
    """One line: ``[FIRING] psi(age) > 0.25 on age: 0.31 (threshold 0.25)``."""
    where = f" on {event.label}" if event.label else ""
    word = "clear threshold" if event.state is AlertState.RESOLVED else "threshold"
    value = f"{number(event.value)} ({word} {number(event.threshold)})"
    return f"[{event.state.value.upper()}] {event.rule}{where}: {value}"


def fields(event: AlertEvent) -> list[tuple[str, str]]:
    """The event's details as ``(name, text)`` pairs, in display order."""
    return [
        ("Rule", event.rule),
        ("Signal", event.signal if not event.label else f"{event.signal}({event.label})"),
        ("State", f"{event.previous_state.value} -> {event.state.value}"),
        ("Severity", event.severity),
        ("Value", number(event.value)),
        ("Threshold", number(event.threshold)),
        ("Window", f"{iso(event.window_start)} to {iso(event.window_end)}"),
        ("Event id", event.event_id),
    ]


def plain_text(event: AlertEvent) -> str:
    """A plain-text body: the title, then one ``Name: text`` line per field."""
    lines = [title(event), ""] + [f"{name}: {text}" for name, text in fields(event)]
    return "\n".join(lines) + "\n"


def number(value: float) -> str:
    """Format a value compactly (``0.31``, ``1.2e-05``, ``inf``)."""
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def iso(ms: int) -> str:
    """Render milliseconds since the epoch as an ISO 8601 UTC time."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def json_safe(value: Any) -> Any:
    """Replace non-finite floats by their names (``"inf"``), which strict JSON cannot carry."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value
