"""A background round every few seconds: the server's monitor loop and rollout controller."""

from __future__ import annotations

import logging
import threading
from typing import Self

log = logging.getLogger(__name__)


class PeriodicLoop:
    """Runs ``run_round`` every ``interval_s`` seconds in a daemon thread until ``stop``.

    A failing round is logged and the next one runs on time (the database may be briefly
    unreachable); ``rounds`` counts the rounds done, for tests and status pages.
    """

    def __init__(self, interval_s: float, name: str) -> None:
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.rounds = 0

    def run_round(self) -> None:
        """One round of work (subclasses)."""
        raise NotImplementedError

    def start(self) -> Self:
        """Start the thread."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.run_round()
            except Exception:
                log.exception("%s: round failed", self._thread.name)
            self.rounds += 1

    def stop(self) -> None:
        """Stop after the current round."""
        self._stop.set()
        self._thread.join()
