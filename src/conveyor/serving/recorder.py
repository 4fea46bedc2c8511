"""What a replica served, recorded off the hot path and flushed to the store per window.

The event loop only appends one small ``Served`` record per request (and per shadow copy);
a background task hands the pending records to a worker thread at every window boundary, where
each ``Sink`` folds them into what it keeps: per-window traffic summaries (``WindowSink``), the
predictions of deployments under experiment, monitor sketches, a sampled request log. A failing
sink is logged and never affects requests or the other sinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Engine, select

from conveyor.serving.routes import RouteTable
from conveyor.serving.windows import DEFAULT_WINDOW_S, SHADOW, TrafficWindow, write_windows
from conveyor.store import read, schema

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Served:
    """One request (or one shadow copy) as the replica answered it."""

    table: RouteTable
    version: int
    route: str  # the route's name, or "shadow" for a copy
    request_id: str
    ok: bool
    seconds: float
    rows: int
    at: float  # wall-clock seconds when it finished
    inputs: Any = None  # the model input the plan built (None when the request failed early)
    predictions: Any = None
    primary_predictions: Any = None  # for a shadow copy: what the caller was answered

    @property
    def deployment(self) -> str:
        return self.table.deployment


@dataclass(frozen=True, slots=True)
class Flush:
    """The records of one window, handed to every sink in a worker thread."""

    start_ms: int
    end_ms: int
    replica_id: str
    records: Sequence[Served]


class Sink(Protocol):
    """Something that keeps part of what was served."""

    def flush(self, batch: Flush) -> None: ...


class DeploymentIds:
    """Deployment name -> id (None for models served by URI without a deployment row)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ids: dict[tuple[str, int], int | None] = {}

    def of(self, table: RouteTable) -> int | None:
        if table.revision == 0:  # a model URI served without a deployment
            return None
        key = (table.deployment, table.revision)
        if key not in self._ids:
            d = schema.deployments
            with read(self._engine) as conn:
                found = conn.execute(
                    select(d.c.deployment_id).where(d.c.name == table.deployment)
                ).scalar()
            self._ids[key] = None if found is None else int(found)
        return self._ids[key]


class TrafficRecorder:
    """Collect ``Served`` records in the event loop; flush them per window in a thread."""

    def __init__(
        self, replica_id: str, sinks: Sequence[Sink], window_s: float = DEFAULT_WINDOW_S
    ) -> None:
        self.replica_id = replica_id
        self.sinks = list(sinks)
        self.window_s = window_s
        self._pending: list[Served] = []
        self._task: asyncio.Task[None] | None = None

    def record(self, served: Served) -> None:
        """Keep one record (event loop only; O(1))."""
        self._pending.append(served)

    def start(self) -> None:
        if self.sinks:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _loop(self) -> None:
        while True:
            now = time.time()
            await asyncio.sleep(self.window_s - now % self.window_s + 0.01)
            await self.flush()

    async def flush(self) -> None:
        """Hand everything pending to the sinks (in a worker thread)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        await asyncio.to_thread(self.flush_now, pending)

    def flush_now(self, records: Sequence[Served]) -> None:
        """Group records by window and give each window to every sink."""
        window_ms = int(self.window_s * 1000)
        by_window: dict[int, list[Served]] = {}
        for r in records:
            at_ms = int(r.at * 1000)
            by_window.setdefault(at_ms - at_ms % window_ms, []).append(r)
        for start, batch in sorted(by_window.items()):
            flush = Flush(start, start + window_ms, self.replica_id, batch)
            for sink in self.sinks:
                try:
                    sink.flush(flush)
                except Exception:  # a sink never takes serving down; the next window retries
                    log.exception("serving: %s failed to flush a window", type(sink).__name__)


class WindowSink:
    """Per-window traffic summaries (``serving_windows``) for rollouts and reports."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ids = DeploymentIds(engine)
        self._rng = np.random.default_rng()

    def flush(self, batch: Flush) -> None:
        grouped: dict[int, dict[tuple[int, str], TrafficWindow]] = {}
        for r in batch.records:
            deployment_id = self._ids.of(r.table)
            if deployment_id is None:
                continue
            windows = grouped.setdefault(deployment_id, {})
            window = windows.get((r.version, r.route))
            if window is None:
                window = windows[(r.version, r.route)] = TrafficWindow(r.version, r.route)
            window.observe(r.ok, r.seconds, r.rows)
            if r.predictions is not None:
                window.observe_predictions(r.predictions, self._rng)
            if r.route == SHADOW and r.ok and r.primary_predictions is not None:
                window.pairs += 1
                window.agree += _agree(r.primary_predictions, r.predictions)
        for deployment_id, windows in grouped.items():
            write_windows(
                self._engine,
                deployment_id,
                batch.replica_id,
                batch.start_ms,
                batch.end_ms,
                windows.values(),
            )


def _agree(primary: Any, shadow: Any) -> bool:
    """Whether a shadow answered a request like the primary (all rows equal, floats close)."""
    a, b = np.asarray(primary), np.asarray(shadow)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return bool(np.allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True))
    return bool(np.array_equal(a.astype(str), b.astype(str)))
