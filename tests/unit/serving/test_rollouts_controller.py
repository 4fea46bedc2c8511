"""The rollout controller's round: one cheap query when idle, ticks when a rollout is active."""

from __future__ import annotations

import time

from conveyor.registry.service import Registry
from conveyor.serving.controller import RolloutController, pending_work, run_round
from conveyor.serving.deployments import Deployments
from conveyor.serving.rollouts import Rollouts
from conveyor.tracking import Workspace


def _deployment(ws: Workspace) -> Deployments:
    registry = Registry(ws.engine)
    for _ in range(2):
        registry.create_version("churn", "/models/m", create_model=True)
    deployments = Deployments(ws.engine)
    deployments.create("svc", "models:/churn/1")
    return deployments


def test_an_idle_store_has_no_work(workspace: Workspace) -> None:
    assert pending_work(workspace.engine) == (False, False)
    _deployment(workspace)
    assert pending_work(workspace.engine) == (False, False)
    assert run_round(workspace.engine) == []


def test_active_rollouts_and_ab_splits_are_work(workspace: Workspace) -> None:
    deployments = _deployment(workspace)
    rollout = Rollouts(workspace.engine).start("svc", 2, steps=[50, 100])
    assert pending_work(workspace.engine) == (True, False)
    deployments.clear_traffic("svc")  # by hand: the next round stops the rollout
    (stopped,) = run_round(workspace.engine)
    assert (stopped.rollout_id, stopped.status) == (rollout.rollout_id, "aborted")
    assert pending_work(workspace.engine) == (False, False)
    deployments.set_arms("svc", [("a", "1", 50), ("b", "2", 50)])
    assert pending_work(workspace.engine) == (False, True)
    assert run_round(workspace.engine) == []  # no winner yet: nothing promoted
    assert deployments.get("svc").policy["mode"] == "ab"


def test_the_controller_thread_runs_rounds_until_stopped(workspace: Workspace) -> None:
    controller = RolloutController(workspace.engine, interval_s=0.01).start()
    deadline = time.monotonic() + 5
    while controller.rounds < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    controller.stop()
    rounds = controller.rounds
    assert rounds >= 3
    time.sleep(0.05)
    assert controller.rounds == rounds
