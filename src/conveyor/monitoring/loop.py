"""The monitor loop: evaluate every monitor's closed windows, forever, in the background.

``conveyor server`` runs one in-process (the controller pattern of the architecture, scaled
down); ``conveyor monitors watch`` runs it on its own. Several loops may run against one store:
each window is evaluated once (the monitor row is locked while its result is recorded).
"""

from __future__ import annotations

import logging
import threading

from conveyor.errors import ConveyorError
from conveyor.monitoring.service import Evaluation, Monitors

logger = logging.getLogger("conveyor.monitoring")


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
    """Evaluates every monitor every ``interval_s`` seconds in a daemon thread."""

    def __init__(self, monitors: Monitors, *, interval_s: float) -> None:
        self._monitors = monitors
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
            evaluate_all(self._monitors)
            self.rounds += 1

    def stop(self) -> None:
        """Stop after the current round."""
        self._stop.set()
        self._thread.join()
