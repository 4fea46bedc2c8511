"""Auto-promotion of A/B winners: the step the serving controller runs on every tick."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine

from conveyor.errors import ConflictError, ConveyorError
from conveyor.serving.deployments import Deployment, Deployments
from conveyor.serving.experiments.arms import ABOptions, decide, read_arms
from conveyor.serving.experiments.feedback import deployment_id_of
from conveyor.serving.policy import TrafficPolicy
from conveyor.store import read

log = logging.getLogger(__name__)
MAX_REASON_CHARS = 2_000


def options_of(auto_promote: dict[str, Any]) -> ABOptions:
    """The test options of a validated ``policy.auto_promote``."""
    return ABOptions(
        test=auto_promote["test"],
        alpha=auto_promote["alpha"],
        min_samples=auto_promote["min_samples"],
        higher_is_better=auto_promote["higher_is_better"],
    )


def promote_ab_winners(
    engine: Engine, *, actor: str = "conveyor-controller"
) -> list[dict[str, Any]]:
    """Promote the winner of every A/B deployment whose policy asks for auto-promotion.

    For each deployment in ``ab`` mode with ``policy.auto_promote`` set, the arms' outcomes
    since the deployment last changed (feedback joined to the predictions log, each arm's
    current version only) are tested with the configured test (the mSPRT ``sequential`` test
    by default, valid however often it is run). When one arm beats every other arm at
    ``alpha`` and every arm has at least ``min_samples`` outcomes, the deployment is promoted
    to the winner's version (``Deployments.promote``: the alias moves or the target is
    re-pinned, the policy returns to single mode, and the audit event carries the test summary
    as its reason). Safe to call on every controller tick: deployments without a winner are
    left alone, and one deployment's failure (an alias that needs approvals) does not stop the
    others.

    Returns:
        One entry per deployment acted on: ``{"deployment", "arm", "version", "promoted":
        True, "reason"}``, or ``{"deployment", "promoted": False, "error"}`` when the
        promotion was refused.
    """
    service = Deployments(engine)
    done = []
    for dep in service.list_deployments():
        auto = _auto_promote(dep)
        if auto is None:
            continue
        try:
            action = _promote_if_won(engine, service, dep, options_of(auto), actor)
        except ConveyorError as exc:
            log.warning("serving: auto-promotion of %s failed: %s", dep.name, exc.message)
            done.append({"deployment": dep.name, "promoted": False, "error": exc.message})
            continue
        if action is not None:
            done.append(action)
    return done


def _auto_promote(dep: Deployment) -> dict[str, Any] | None:
    try:
        policy = TrafficPolicy.from_dict(dep.policy)
    except ConveyorError:  # a policy written by a newer version; not ours to judge
        return None
    if policy.mode != "ab":
        return None
    return policy.auto_promote


def _promote_if_won(
    engine: Engine, service: Deployments, dep: Deployment, options: ABOptions, actor: str
) -> dict[str, Any] | None:
    table = service.route_table(dep.name)
    with read(engine) as conn:
        deployment_id = deployment_id_of(conn, dep.name)
    arms = read_arms(engine, deployment_id, table, dep.updated_time)
    decision = decide(arms, options)
    if decision.winner is None:
        return None
    reason = f"auto-promotion ({options.test} test): {decision.note}"[:MAX_REASON_CHARS]
    try:  # compare-and-set: an operator or another controller changed it meanwhile
        service.promote(
            dep.name,
            decision.winner.version,
            reason=reason,
            expected_revision=dep.revision,
            actor=actor,
        )
    except ConflictError as exc:
        if exc.field != "expected_revision":
            raise
        return None  # decided again on the next tick, on the new state
    log.info("serving: promoted %s to version %d", dep.name, decision.winner.version)
    return {
        "deployment": dep.name,
        "arm": decision.winner.name,
        "version": decision.winner.version,
        "promoted": True,
        "reason": reason,
    }
