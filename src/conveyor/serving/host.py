"""One deployment inside one replica: its route table, its loaded versions, hot swap.

``reconcile`` reads the desired route table (a small query), loads any version it does not hold
yet in a worker thread, then swaps the whole table in one assignment: requests that already
picked a version finish on it, new requests see the new table. Versions no longer routed are
closed after a grace period, so a request that picked one just before the swap still finishes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conveyor.errors import BackendUnavailableError, NotFoundError
from conveyor.serving.routes import ResolvedRoute, RouteTable

log = logging.getLogger(__name__)

Loader = Callable[[str, int], Any]  # (model name, version) -> PyFuncModel
Source = Callable[[], RouteTable]  # blocking: reads the store
LOAD_SWITCH_INTERVAL_S = 0.0005


@dataclass
class LoadedVersion:
    """A model version ready to answer: the model, its input plan and its batcher."""

    version: int
    model: Any
    plan: Any
    batcher: Any
    load_seconds: float
    loaded_at: float = field(default_factory=time.time)

    async def close(self) -> None:
        if self.batcher is not None:
            await self.batcher.close()


@dataclass(frozen=True, slots=True)
class Pick:
    """What one request was routed to."""

    route: ResolvedRoute
    loaded: LoadedVersion
    table: RouteTable


class DeploymentHost:
    """Serve one deployment: keep its versions loaded and its route table current."""

    def __init__(
        self,
        name: str,
        source: Source,
        loader: Loader,
        prepare: Callable[[Any, RouteTable, int], tuple[Any, Any]],
        *,
        grace_s: float = 10.0,
        on_swap: Callable[[RouteTable], None] | None = None,
        on_load: Callable[[RouteTable, int, float], None] | None = None,
    ) -> None:
        self.name = name
        self._source = source
        self._loader = loader
        self._prepare = prepare  # (model, table, version) -> (plan, batcher)
        self._grace_s = grace_s
        self._on_swap = on_swap
        self._on_load = on_load
        self.table: RouteTable | None = None
        self.versions: dict[int, LoadedVersion] = {}
        self.last_error: str | None = None
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    @property
    def ready(self) -> bool:
        return self.table is not None

    async def reconcile(self) -> bool:
        """Bring this host to the desired table; True when it swapped."""
        async with self._lock:
            try:
                table = await asyncio.to_thread(self._source)
            except NotFoundError as exc:
                self.last_error = exc.message
                return False
            if self.table is not None and table.key == self.table.key:
                return False
            batching_changed = self.table is not None and table.batching != self.table.batching
            fresh: dict[int, LoadedVersion] = {}
            for version in sorted(table.versions):
                kept = self.versions.get(version)
                if kept is not None and not batching_changed:
                    fresh[version] = kept
                else:
                    fresh[version] = await self._load(table, version)
            # held now and not kept: versions no longer routed, or reloaded for new batching
            retired = [v for k, v in self.versions.items() if fresh.get(k) is not v]
            # the swap: one assignment each, no await in between
            self.versions = fresh
            self.table = table
            self.last_error = None
            self._retire(retired)
            if self._on_swap is not None:
                self._on_swap(table)
            return True

    async def _load(self, table: RouteTable, version: int) -> LoadedVersion:
        started = time.perf_counter()
        model, plan, batcher = await asyncio.to_thread(self._load_blocking, table, version)
        seconds = time.perf_counter() - started
        log.info("loaded %s version %d in %.2fs", table.model_name, version, seconds)
        if self._on_load is not None:
            self._on_load(table, version, seconds)
        return LoadedVersion(version, model, plan, batcher, seconds)

    def _load_blocking(self, table: RouteTable, version: int) -> tuple[Any, Any, Any]:
        """Load and prepare one version off the event loop, without a full GC pass meanwhile.

        Loading a model allocates many objects, which triggers CPython's full (generation 2)
        collection; it walks every object of the process holding the GIL, stalling the event
        loop for the whole pass (225 ms measured for a 27 MB forest). The collector is off
        while loading and the loaded objects are frozen afterwards: they live as long as the
        version does, and later full passes skip them. Freed versions are still reclaimed by
        reference counting.
        """
        enabled = gc.isenabled()
        gc.disable()
        # While loading, the event loop waits at most 0.5 ms (not 5) for the GIL.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, LOAD_SWITCH_INTERVAL_S))
        try:
            model = self._loader(table.model_name, version)
            plan, batcher = self._prepare(model, table, version)  # checks the plan by predicting
        finally:
            sys.setswitchinterval(switch)
            if enabled:
                gc.enable()
        gc.collect(1)  # young garbage only (cheap), so freezing keeps no dead objects
        gc.freeze()
        return model, plan, batcher

    def _retire(self, versions: list[LoadedVersion]) -> None:
        for loaded in versions:
            task = asyncio.get_running_loop().create_task(self._close_later(loaded))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _close_later(self, loaded: LoadedVersion) -> None:
        await asyncio.sleep(self._grace_s)
        await loaded.close()

    def pick(self, sticky_key: str | None = None, version: int | None = None) -> Pick:
        """Route one request (to ``version`` when the caller names one the table serves)."""
        table = self.table
        if table is None:
            msg = f"deployment {self.name!r} is not ready yet" + (
                f": {self.last_error}" if self.last_error else ""
            )
            raise BackendUnavailableError(msg)
        if version is None:
            route = table.choose(sticky_key)
        else:
            found = [r for r in table.routes if r.version == version]
            if not found:
                served = sorted({r.version for r in table.routes})
                msg = f"deployment {self.name!r} serves versions {served}, not {version}"
                raise NotFoundError(msg, field="version")
            route = found[0]
        return Pick(route, self.versions[route.version], table)

    def shadow_versions(self, table: RouteTable) -> list[LoadedVersion]:
        """Loaded shadows that get a copy of this request."""
        return [self.versions[s.version] for s in table.shadows_for() if s.version in self.versions]

    async def close(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        for loaded in self.versions.values():
            await loaded.close()
        self.versions = {}
