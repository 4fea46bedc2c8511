"""The rollout controller: advance progressive rollouts and promote A/B winners, forever.

``conveyor server`` runs one in its lifespan (as it runs the monitor loop); ``conveyor rollout
start`` drives the same ``Rollouts.tick`` in the foreground. Any number of them may run against
one store: each rollout decision is a compare-and-set on the rollout's row.

A round with nothing to do costs one small query and imports nothing of the analysis stack
(NumPy, the statistics), so a tracking-only server pays nothing for it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, select

from conveyor._loops import PeriodicLoop
from conveyor.store import read, schema

log = logging.getLogger(__name__)

_ro = schema.rollouts
_dep = schema.deployments


def pending_work(engine: Engine) -> tuple[bool, bool]:
    """Whether any rollout is active, and whether any deployment may run an A/B split."""
    active = select(_ro.c.rollout_id).where(_ro.c.finished_time.is_(None)).limit(1)
    # A superset of A/B deployments (the policy JSON names the mode); promote_ab_winners checks.
    ab = select(_dep.c.deployment_id).where(_dep.c.policy.contains('"ab"')).limit(1)
    with read(engine) as conn:
        return (
            conn.execute(active).first() is not None,
            conn.execute(ab).first() is not None,
        )


def run_round(engine: Engine) -> list[Any]:
    """One controller round: tick every active rollout, then promote decided A/B tests."""
    has_rollouts, has_ab = pending_work(engine)
    moved: list[Any] = []
    if has_rollouts:
        from conveyor.serving.rollouts import Rollouts

        moved = list(Rollouts(engine).tick())
    if has_ab:
        _promote_ab_winners(engine)
    return moved


def _promote_ab_winners(engine: Engine) -> None:
    try:
        from conveyor.serving.experiments import promote_ab_winners
    except ImportError:  # pragma: no cover - A/B auto-promotion is not installed in this build
        return
    promote_ab_winners(engine)


class RolloutController(PeriodicLoop):
    """Runs ``run_round`` every ``interval_s`` seconds in a daemon thread."""

    def __init__(self, engine: Engine, interval_s: float = 1.0) -> None:
        super().__init__(interval_s, "conveyor-rollouts")
        self._engine = engine

    def run_round(self) -> None:
        run_round(self._engine)
