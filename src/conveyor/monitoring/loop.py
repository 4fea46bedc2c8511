"""The monitor loop: evaluate every monitor's closed windows, forever, in the background.

``conveyor server`` runs one in-process (the controller pattern of the architecture, scaled
down); ``conveyor monitors watch`` runs it on its own. Several loops may run against one store:
each window is evaluated once (the monitor row is locked while its result is recorded).

The loop costs a tracking-only server nothing: it counts the monitors with one small query and
loads the monitoring stack (pandas, SciPy, scikit-learn) only once there is one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select

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


class MonitorLoop:
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
        self._monitors = monitors
        self._engine = engine
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="conveyor-monitor", daemon=True)
        self.rounds = 0

    def start(self) -> MonitorLoop:
        """Start the thread."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                if self._engine is None or has_monitors(self._engine):
                    evaluate_all(self._monitors())
            except Exception:  # e.g. the database is briefly unreachable: try next round
                logger.exception("monitor loop round failed")
            self.rounds += 1

    def stop(self) -> None:
        """Stop after the current round."""
        self._stop.set()
        self._thread.join()
