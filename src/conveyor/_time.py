"""Clock helpers: Conveyor stores times as integer milliseconds since the epoch (as MLflow)."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Return the current time in milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000
