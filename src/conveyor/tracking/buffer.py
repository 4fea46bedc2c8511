"""Buffered metric logging: ``add`` appends in memory; a background thread ships batches.

Batches go out when ``max_points`` accumulate or every ``interval_s``. A batch that fails is
retried with backoff and then spooled to disk, so points survive a server outage and are
replayed, in order, before newer ones. ``flush()`` makes every point durable or raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from conveyor._ids import new_id
from conveyor.errors import BackendUnavailableError, ConveyorError
from conveyor.tracking.limits import MAX_BATCH_METRICS
from conveyor.tracking.metric_writes import Point
from conveyor.tracking.spool import Sender, Spool

logger = logging.getLogger("conveyor.tracking")

RETRY_DELAYS_S = (0.05, 0.2, 0.5)


class MetricBuffer:
    """In-process buffer of metric points for one run."""

    def __init__(
        self,
        run_id: str,
        send: Sender,
        spool: Spool,
        *,
        interval_s: float = 1.0,
        max_points: int = 20_000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.run_id = run_id
        self._send = send
        self._spool = spool
        self._interval_s = interval_s
        self._max_points = max_points
        self._sleep = sleep
        self._points: list[Point] = []
        self._lock = threading.Lock()
        self._ship_lock = threading.Lock()  # one shipper at a time keeps batches in order
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"conveyor-flush-{run_id[:8]}", daemon=True
        )
        self._thread.start()

    def add(self, point: Point) -> None:
        """Append a point; wake the shipper when the batch is full."""
        with self._lock:
            self._points.append(point)
            full = len(self._points) >= self._max_points
        if full:
            self._wake.set()

    def extend(self, points: list[Point]) -> None:
        """Append several points."""
        with self._lock:
            self._points.extend(points)
            full = len(self._points) >= self._max_points
        if full:
            self._wake.set()

    def __len__(self) -> int:
        return len(self._points)

    def _take(self) -> list[Point]:
        with self._lock:
            points, self._points = self._points, []
        return points

    def _deliver(self, run_id: str, points: list[Point], batch_id: str) -> None:
        for delay in (*RETRY_DELAYS_S, None):
            try:
                self._send(run_id, points, batch_id)
            except BackendUnavailableError:
                if delay is None:
                    raise
                self._sleep(delay)
            else:
                return

    def _spool_points(self, points: list[Point]) -> None:
        for start in range(0, len(points), MAX_BATCH_METRICS):
            self._spool.put(self.run_id, points[start : start + MAX_BATCH_METRICS], new_id())

    def _ship(self) -> None:
        with self._ship_lock:
            try:
                self._spool.replay(self._deliver)
            except BackendUnavailableError:
                # Older batches are still pending: queue the new points behind them, on disk.
                self._spool_points(self._take())
                raise
            points = self._take()
            for start in range(0, len(points), MAX_BATCH_METRICS):
                chunk = points[start : start + MAX_BATCH_METRICS]
                batch_id = new_id()
                try:
                    self._deliver(self.run_id, chunk, batch_id)
                except BackendUnavailableError:
                    # Keep this chunk and the rest, in order, for a later replay.
                    self._spool.put(self.run_id, chunk, batch_id)
                    self._spool_points(points[start + MAX_BATCH_METRICS :])
                    raise

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._ship()
            except BackendUnavailableError as exc:
                logger.warning("conveyor: server unreachable, points spooled to disk: %s", exc)
            except ConveyorError:
                logger.exception("conveyor: a metric batch was rejected")

    def flush(self, *, timeout_s: float = 0.0) -> None:
        """Ship every buffered and spooled point now.

        With ``timeout_s`` > 0, keep retrying an unreachable server until the deadline.

        Raises:
            BackendUnavailableError: the server stayed unreachable; the points are spooled on
                disk and will be replayed by the next flush, in this or a later process.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._ship()
            except BackendUnavailableError:
                if time.monotonic() >= deadline:
                    raise
                self._sleep(0.5)
            else:
                return

    def close(self, *, timeout_s: float = 0.0) -> None:
        """Stop the background thread after a final flush."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush(timeout_s=timeout_s)
