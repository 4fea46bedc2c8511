"""Buffered metric logging: ``add`` appends in memory; a background thread ships batches.

Batches go out when ``max_points`` accumulate or every ``interval_s``. One daemon thread per
process (the ``Flusher``) serves every open buffer, so starting a run costs no thread. A batch
that fails is retried with backoff and then spooled to disk, so points survive a server outage
and are replayed, in order, before newer ones. A batch the server rejects for good (its run was
deleted, say) is logged and set aside, never allowed to block the batches behind it.
``flush()`` makes every point durable or raises.
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


class Flusher:
    """The process-wide thread that ships every registered buffer in the background."""

    def __init__(self) -> None:
        self._buffers: dict[int, MetricBuffer] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, buffer: MetricBuffer) -> None:
        """Start serving ``buffer`` (and the thread, on first use)."""
        with self._lock:
            self._buffers[id(buffer)] = buffer
            self._wake.set()  # its interval may be the shortest now
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="conveyor-flusher", daemon=True
                )
                self._thread.start()

    def unregister(self, buffer: MetricBuffer) -> None:
        """Stop serving ``buffer``."""
        with self._lock:
            self._buffers.pop(id(buffer), None)

    def is_serving(self, buffer: MetricBuffer) -> bool:
        """Return whether ``buffer`` is registered."""
        return id(buffer) in self._buffers

    def is_alive(self) -> bool:
        """Return whether the background thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Ship now rather than at the next interval."""
        self._wake.set()

    def _loop(self) -> None:
        while True:
            with self._lock:
                buffers = list(self._buffers.values())
            now = time.monotonic()
            due = min((b.next_due for b in buffers), default=now + 1.0)
            self._wake.wait(max(due - now, 0.0))
            self._wake.clear()
            # A fresh look after clearing: a wake-up that came before the clear is seen here.
            with self._lock:
                buffers = list(self._buffers.values())
            now = time.monotonic()
            for buffer in buffers:
                if self.is_serving(buffer) and (buffer.is_full() or buffer.next_due <= now):
                    buffer.next_due = now + buffer.interval_s
                    buffer.ship_in_background()


FLUSHER = Flusher()


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
        flusher: Flusher = FLUSHER,
    ) -> None:
        self.run_id = run_id
        self.interval_s = interval_s
        self.next_due = time.monotonic() + interval_s
        self._send = send
        self._spool = spool
        self._max_points = max_points
        self._sleep = sleep
        self._flusher = flusher
        self._points: list[Point] = []
        self._lock = threading.Lock()
        self._ship_lock = threading.Lock()  # one shipper at a time keeps batches in order
        flusher.register(self)

    def add(self, point: Point) -> None:
        """Append a point; wake the shipper when the batch is full."""
        with self._lock:
            self._points.append(point)
            # Wake once on crossing the threshold: an Event.set per point costs more than the add.
            crossed = len(self._points) == self._max_points
        if crossed:
            self._flusher.wake()

    def extend(self, points: list[Point]) -> None:
        """Append several points."""
        with self._lock:
            before = len(self._points)
            self._points.extend(points)
            crossed = before < self._max_points <= len(self._points)
        if crossed:
            self._flusher.wake()

    def __len__(self) -> int:
        return len(self._points)

    def is_full(self) -> bool:
        """Return whether a batch's worth of points is waiting."""
        return len(self._points) >= self._max_points

    def _take(self) -> list[Point]:
        with self._lock:
            points, self._points = self._points, []
        return points

    def _deliver(
        self, run_id: str, points: list[Point], batch_id: str, send: Sender | None = None
    ) -> None:
        for delay in (*RETRY_DELAYS_S, None):
            try:
                (send or self._send)(run_id, points, batch_id)
            except BackendUnavailableError:
                if delay is None:
                    raise
                self._sleep(delay)
            else:
                return

    def _spool_points(self, points: list[Point]) -> None:
        for start in range(0, len(points), MAX_BATCH_METRICS):
            self._spool.put(self.run_id, points[start : start + MAX_BATCH_METRICS], new_id())

    def _ship(self, last: Sender | None = None) -> None:
        """Replay the spool, then send the buffered points; raise the first rejection.

        ``last`` sends the final chunk (an empty one when nothing is buffered) instead of the
        regular sender: it is how ``close`` ends the run in the same write as its last points.
        """
        with self._ship_lock:
            try:
                self._spool.replay(self._deliver)
            except BackendUnavailableError:
                # Older batches are still pending: queue the new points behind them, on disk.
                self._spool_points(self._take())
                raise
            points = self._take()
            starts = list(range(0, len(points), MAX_BATCH_METRICS))
            if last is not None and not starts:
                starts = [0]
            rejected: ConveyorError | None = None
            for start in starts:
                chunk = points[start : start + MAX_BATCH_METRICS]
                batch_id = new_id()
                send = last if start == starts[-1] else None
                try:
                    self._deliver(self.run_id, chunk, batch_id, send)
                except BackendUnavailableError:
                    # Keep this chunk and the rest, in order, for a later replay.
                    if chunk:
                        self._spool.put(self.run_id, chunk, batch_id)
                    self._spool_points(points[start + MAX_BATCH_METRICS :])
                    raise
                except ConveyorError as exc:  # rejected for good: the other chunks still go
                    rejected = rejected or exc
            if rejected is not None:
                raise rejected

    def ship_in_background(self) -> None:
        """Ship from the flusher thread: log failures instead of raising them."""
        if not self._points and not self._spool.has_pending():
            return
        try:
            self._ship()
        except BackendUnavailableError as exc:
            logger.warning("conveyor: server unreachable, points spooled to disk: %s", exc)
        except ConveyorError:
            logger.exception("conveyor: a metric batch was rejected")
        except Exception:  # the flusher must outlive any bug in one batch
            logger.exception("conveyor: shipping metric points failed")

    def flush(self, *, timeout_s: float = 0.0, last: Sender | None = None) -> None:
        """Ship every buffered and spooled point now.

        With ``timeout_s`` > 0, keep retrying an unreachable server until the deadline.
        ``last`` sends the final chunk (see ``_ship``).

        Raises:
            BackendUnavailableError: the server stayed unreachable; the points are spooled on
                disk and will be replayed by the next flush, in this or a later process.
            ConveyorError: the server rejected a batch for good (the others were delivered).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._ship(last)
            except BackendUnavailableError:
                if time.monotonic() >= deadline:
                    raise
                self._sleep(0.5)
            else:
                return

    def close(self, *, timeout_s: float = 0.0, last: Sender | None = None) -> None:
        """Stop background shipping for this buffer after a final flush (``last``: see _ship)."""
        self._flusher.unregister(self)
        self.flush(timeout_s=timeout_s, last=last)
