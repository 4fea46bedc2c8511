"""The monitor loop: evaluate every monitor's closed windows, forever, in the background.

``conveyor server`` runs one in-process (the controller pattern of the architecture, scaled
down); ``conveyor monitors watch`` runs it on its own. Several loops may run against one store:
each window is evaluated once (the monitor row is locked while its result is recorded).

The loop costs a tracking-only server nothing: it counts the monitors with one small query and
loads the monitoring stack (pandas, SciPy, scikit-learn) only once there is one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select

from conveyor._loops import PeriodicLoop
from conveyor.errors import ConveyorError
from conveyor.store import read, schema

if TYPE_CHECKING:
    from conveyor.monitoring.records import Evaluation
    from conveyor.monitoring.service import Monitors

logger = logging.getLogger("conveyor.monitoring")


def has_monitors(engine: Engine) -> bool:
    """Whether the store holds any monitor (cheap: no monitoring import)."""
    with read(engine) as conn:
        return bool(conn.execute(select(func.count()).select_from(schema.monitors)).scalar())


def evaluate_all(monitors: Monitors) -> dict[str, Evaluation]:
    """Evaluate every monitor once; a failing monitor is logged and does not stop the rest."""
    results: dict[str, Evaluation] = {}
    for monitor in monitors.list_monitors():
        try:
            results[monitor.name] = monitors.evaluate(monitor.name)
        except ConveyorError as exc:
            logger.warning("monitor %s: evaluation failed: %s", monitor.name, exc.message)
        except Exception:  # the loop must outlive a bug in one monitor
            logger.exception("monitor %s: evaluation failed", monitor.name)
    return results


class MonitorLoop(PeriodicLoop):
    """Evaluates every monitor every ``interval_s`` seconds in a daemon thread.

    ``monitors`` returns the service (built on first use); ``engine``, when given, is asked
    first whether there is any monitor at all.
    """

    def __init__(
        self,
        monitors: Callable[[], Monitors],
        *,
        interval_s: float,
        engine: Engine | None = None,
    ) -> None:
        super().__init__(interval_s, "conveyor-monitor")
        self._monitors = monitors
        self._engine = engine

    def run_round(self) -> None:
        if self._engine is None or has_monitors(self._engine):
            evaluate_all(self._monitors())
