"""Which project a tracking object belongs to, cached for the server process.

Runs never change experiment and an experiment's project is set when it is created, so the
answers are cached (bounded): resolving ``run_uuid -> project`` on every ``log_batch`` is a dict
lookup after the first call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sqlalchemy import Engine, select

from conveyor.store import read, schema

_CACHE_MAX = 100_000


class ProjectResolver:
    """Map experiment ids, experiment names and run ids to their project."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._experiments: dict[int, str] = {}
        self._runs: dict[str, str] = {}
        self._lock = threading.Lock()

    def _remember(self, cache: dict[int, str] | dict[str, str], key: object, value: str) -> None:
        with self._lock:
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[key] = value  # type: ignore[index]  # both caches: key matches the cache

    def cached_run(self, run_id: str) -> str | None:
        """Return the run's project if it is cached (no I/O)."""
        return self._runs.get(run_id)

    def cached_experiment(self, experiment_id: int) -> str | None:
        """Return the experiment's project if it is cached (no I/O)."""
        return self._experiments.get(experiment_id)

    def run(self, run_id: str) -> str | None:
        """Return the project of run ``run_id``, None if there is no such run."""
        found = self._runs.get(run_id)
        if found is not None:
            return found
        r, e = schema.runs, schema.experiments
        stmt = (
            select(e.c.project)
            .select_from(r.join(e, e.c.experiment_id == r.c.experiment_id))
            .where(r.c.run_uuid == run_id)
        )
        with read(self._engine) as conn:
            project = conn.execute(stmt).scalar()
        if project is not None:
            self._remember(self._runs, run_id, project)
        return project

    def experiments(self, experiment_ids: Iterable[int]) -> dict[int, str]:
        """Return the project of each existing experiment among ``experiment_ids``."""
        wanted = set(experiment_ids)
        found = {i: p for i in wanted if (p := self._experiments.get(i)) is not None}
        missing = wanted - found.keys()
        if missing:
            e = schema.experiments
            stmt = select(e.c.experiment_id, e.c.project).where(e.c.experiment_id.in_(missing))
            with read(self._engine) as conn:
                for exp_id, project in conn.execute(stmt).all():
                    found[exp_id] = project
                    self._remember(self._experiments, exp_id, project)
        return found

    def experiment(self, experiment_id: int) -> str | None:
        """Return the project of experiment ``experiment_id``, None if there is none."""
        return self.experiments([experiment_id]).get(experiment_id)

    def experiment_named(self, name: str) -> str | None:
        """Return the project of the experiment named ``name`` (names change: not cached)."""
        e = schema.experiments
        with read(self._engine) as conn:
            return conn.execute(select(e.c.project).where(e.c.name == name)).scalar()

    def forget_experiment(self, experiment_id: int) -> None:
        """Drop a cached answer (after the experiment was moved to another project)."""
        with self._lock:
            self._experiments.pop(experiment_id, None)


__all__ = ["ProjectResolver"]
