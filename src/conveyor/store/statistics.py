"""Keep PostgreSQL's planner statistics fresh as Conveyor's tables grow.

A table loaded faster than autovacuum looks at it (or on a server with autovacuum off) has no
statistics: the planner then takes 100k rows for one and picks nested loops that turn a 20 ms
search into a 30 s one. Conveyor counts the rows it writes and runs ``ANALYZE`` on its search
tables, in a background thread, after the tables have grown by half (and after the first
thousand rows). SQLite plans from its indexes' shapes and needs none of this.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, text

logger = logging.getLogger("conveyor.store")

TABLES = ("runs", "latest_metrics", "params", "tags", "metrics")
FIRST_ANALYZE_ROWS = 1_000
GROWTH = 0.5


class StatisticsKeeper:
    """Counts rows written through one engine; analyzes when they outgrow the statistics."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._enabled = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._written = 0
        self._threshold = FIRST_ANALYZE_ROWS
        self._running = False

    def note(self, rows: int) -> None:
        """Record ``rows`` written; start an ``ANALYZE`` when the threshold is passed."""
        if not self._enabled:
            return
        with self._lock:
            self._written += rows
            if self._running or self._written < self._threshold:
                return
            self._running = True
            total = self._written
        threading.Thread(target=self._analyze, args=(total,), daemon=True).start()

    def _analyze(self, total: int) -> None:
        try:
            with self._engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text(f"ANALYZE {', '.join(TABLES)}")
                )
        except Exception:  # statistics are an optimisation: never fail a write over them
            logger.warning("conveyor: ANALYZE failed", exc_info=True)
        finally:
            with self._lock:
                self._threshold = int(total * (1 + GROWTH))
                self._running = False
