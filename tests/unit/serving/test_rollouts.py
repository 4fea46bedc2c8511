"""The rollout state machine on both databases, driven by synthetic traffic summaries."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from conveyor.errors import ConflictError, InvalidArgumentError, NotFoundError
from conveyor.registry.approvals import Approvals
from conveyor.registry.service import Registry
from conveyor.serving.deployments import Deployments
from conveyor.serving.rollout_record import Rollout
from conveyor.serving.rollouts import Rollouts
from conveyor.serving.windows import TrafficWindow, write_windows
from conveyor.store import events, read, schema
from conveyor.tracking import Workspace

STEPS = (20, 50, 100)
INTERVAL_MS = 60_000
LIMITS = {"min_requests": 50}
HEALTHY = {"0": 60, "1": 40}


@pytest.fixture
def registry(workspace: Workspace) -> Registry:
    reg = Registry(workspace.engine)
    for _ in range(3):
        reg.create_version("churn", "/models/m", create_model=True)
    reg.set_alias("churn", "production", 1)
    Deployments(workspace.engine).create("svc", "models:/churn@production")
    return reg


@pytest.fixture
def rollouts(workspace: Workspace, registry: Registry) -> Rollouts:
    return Rollouts(workspace.engine)


def _start(rollouts: Rollouts, **kwargs: Any) -> Rollout:
    options: dict[str, Any] = {"steps": STEPS, "interval_s": 60, "thresholds": LIMITS}
    return rollouts.start("svc", "2", **{**options, **kwargs})


def _window(
    version: int,
    route: str,
    requests: int,
    *,
    errors: int = 0,
    latency_s: float = 0.01,
    classes: dict[str, int] | None = None,
) -> TrafficWindow:
    window = TrafficWindow(version, route, requests=requests, errors=errors)
    window.observe_latencies(np.full(requests, latency_s))
    share = classes or HEALTHY
    total = sum(share.values())
    window.classes = {k: v * requests // total for k, v in share.items()}
    return window


def _serve(ws: Workspace, at: int, *windows: TrafficWindow) -> None:
    """Write what one replica served in the 1 s window starting at ``at``."""
    with read(ws.engine) as conn:
        did = conn.execute(select(schema.deployments.c.deployment_id)).scalar_one()
    write_windows(ws.engine, did, "replica-1", at, at + 1000, windows)


def _step(ws: Workspace, r: Rollout, candidate: TrafficWindow) -> int:
    """Serve one healthy step (the primary too, unless at 100 %); return the decision time."""
    primary = [] if r.percent >= 100 else [_window(1, "primary", 400)]
    _serve(ws, r.step_started_time + 1000, candidate, *primary)
    return r.step_started_time + INTERVAL_MS


def _actions(ws: Workspace) -> list[str]:
    return [e.action for e in events.list_events(ws.engine, subject="deployments:/svc")]


def _canary(deployments: Deployments) -> list[tuple[str, int, float]]:
    return [(r["name"], r["version"], r["weight"]) for r in deployments.get("svc").routes]


def test_healthy_steps_promote_and_move_the_alias(
    rollouts: Rollouts, workspace: Workspace, registry: Registry
) -> None:
    deployments = Deployments(workspace.engine)
    r = _start(rollouts)
    assert (r.status, r.percent, r.candidate_version, r.primary_version) == ("running", 20, 2, 1)
    assert _canary(deployments) == [("primary", 1, 80.0), ("canary", 2, 20.0)]
    assert {(v["version"], v["role"]) for v in deployments.served_versions("svc")} == {
        (1, "primary"),
        (2, "canary"),
    }
    for percent in (50, 100):
        at = _step(workspace, r, _window(2, "canary", 100))
        assert rollouts.tick(at - 1) == []  # the interval has not passed yet
        (r,) = rollouts.tick(at)
        assert (r.status, r.percent, r.step_started_time) == ("running", percent, at)
        assert _canary(deployments)[1] == ("canary", 2, percent)
    at = _step(workspace, r, _window(2, "canary", 100))
    (r,) = rollouts.tick(at)
    assert r.status == "succeeded"
    assert r.reason == "promoted v2: every step passed (20, 50, 100 %)"
    assert registry.get_by_alias("churn", "production").version == 2
    assert _canary(deployments) == [("primary", 2, 100.0)]
    assert (2, "primary") in {(v["version"], v["role"]) for v in deployments.served_versions("svc")}
    assert [h["percent"] for h in r.history] == [20, 50, 100]
    assert all(h["verdict"] == "pass" for h in r.history)
    last = r.history[-1]  # compared with the primary's traffic of the 50 % step
    assert last["baseline"] == {
        "start_ms": r.history[1]["started"],
        "end_ms": r.history[1]["decided"],
    }
    assert last["primary_requests"] == 400
    assert last["checks"]["success_rate"] == {"observed": 1.0, "threshold": 0.99, "verdict": "pass"}
    rollout_events = [a for a in _actions(workspace) if a.startswith("rollout.")]
    assert rollout_events == ["rollout.started", "rollout.step", "rollout.step", "rollout.promoted"]
    assert "deployment.promoted" in _actions(workspace)
    assert rollouts.tick(at + INTERVAL_MS) == []  # finished rollouts are left alone


def test_errors_roll_back_with_the_reason(rollouts: Rollouts, workspace: Workspace) -> None:
    r = _start(rollouts)
    at = _step(workspace, r, _window(2, "canary", 100, errors=10))
    (r,) = rollouts.tick(at)
    assert r.status == "failed"
    assert r.reason == "rolled back to v1 at step 1/3 (20 %): success rate 90.00% < 99.00%"
    assert r.history[-1]["action"] == "rolled_back"
    assert _canary(Deployments(workspace.engine)) == [("primary", 1, 100.0)]
    event = events.list_events(workspace.engine, action_prefix="rollout.rolled_back")[0]
    assert event.payload["reason"] == r.reason
    assert event.payload["analysis"]["verdict"] == "fail"


def test_a_failing_success_rate_rolls_back_before_the_interval(
    rollouts: Rollouts, workspace: Workspace
) -> None:
    r = _start(rollouts)
    _serve(workspace, r.step_started_time, _window(2, "canary", 60, errors=30))
    (r,) = rollouts.tick(r.step_started_time + 2000)
    assert r.status == "failed"
    assert "success rate 50.00% < 99.00%" in r.reason


@pytest.mark.parametrize(
    ("candidate", "needle"),
    [
        (_window(2, "canary", 100, latency_s=2.0), "p99 latency"),
        (_window(2, "canary", 100, classes={"0": 5, "1": 95}), "prediction PSI"),
    ],
)
def test_slow_or_shifted_candidates_roll_back(
    rollouts: Rollouts, workspace: Workspace, candidate: TrafficWindow, needle: str
) -> None:
    r = _start(rollouts)
    (r,) = rollouts.tick(_step(workspace, r, candidate))
    assert r.status == "failed"
    assert needle in r.reason
    assert "success rate" not in r.reason


def test_too_little_traffic_waits_then_times_out(rollouts: Rollouts, workspace: Workspace) -> None:
    r = _start(rollouts)
    _serve(workspace, r.step_started_time, _window(2, "canary", 10))
    assert rollouts.tick(r.step_started_time + INTERVAL_MS) == []
    assert rollouts.get(r.rollout_id).progress is None
    assert rollouts.tick(r.step_started_time + 9 * INTERVAL_MS) == []
    (r,) = rollouts.tick(r.step_started_time + 10 * INTERVAL_MS)
    assert r.status == "failed"
    assert "too little traffic reached it: 10 of 50 requests in 600 s" in r.reason


def test_concurrent_ticks_advance_a_step_once(workspace: Workspace, registry: Registry) -> None:
    r = _start(Rollouts(workspace.engine))
    at = _step(workspace, r, _window(2, "canary", 100))
    barrier = threading.Barrier(4)
    results: list[list[Rollout]] = []

    def tick() -> None:
        controller = Rollouts(workspace.engine)  # one per "process"
        barrier.wait()
        results.append(controller.tick(at))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(moved) for moved in results) == [0, 0, 0, 1]
    assert _actions(workspace).count("rollout.step") == 1
    assert Rollouts(workspace.engine).get(r.rollout_id).step_index == 1


def test_abort_clears_the_canary_once(rollouts: Rollouts, workspace: Workspace) -> None:
    r = _start(rollouts)
    done = rollouts.abort("svc", reason="wrong version", actor="alice")
    assert (done.status, done.reason) == ("aborted", "aborted by alice: wrong version")
    assert _canary(Deployments(workspace.engine)) == [("primary", 1, 100.0)]
    assert rollouts.tick(r.step_started_time + INTERVAL_MS) == []
    with pytest.raises(ConflictError, match="has aborted; there is nothing to abort"):
        rollouts.abort("svc")
    assert _actions(workspace).count("rollout.aborted") == 1


def test_traffic_changed_by_hand_stops_the_rollout(
    rollouts: Rollouts, workspace: Workspace
) -> None:
    r = _start(rollouts)
    Deployments(workspace.engine).clear_traffic("svc")
    (r,) = rollouts.tick(r.step_started_time + 1000)
    assert r.status == "aborted"
    assert r.reason == "stopped: the canary route to v2 was removed outside the rollout"


def test_a_primary_moved_by_hand_stops_the_rollout_and_its_canary(
    rollouts: Rollouts, workspace: Workspace, registry: Registry
) -> None:
    r = _start(rollouts)
    registry.set_alias("churn", "production", 3)
    (r,) = rollouts.tick(r.step_started_time + 1000)
    assert r.status == "aborted"
    assert r.reason == "stopped: the primary moved from v1 to v3 outside the rollout"
    assert _canary(Deployments(workspace.engine)) == [("primary", 3, 100.0)]


def test_a_promotion_under_approval_opens_a_request_and_approving_it_promotes(
    rollouts: Rollouts, workspace: Workspace, registry: Registry
) -> None:
    r = _start(rollouts, steps=[100])
    approvals = Approvals(registry)
    approvals.set_policy("churn", "production", required=1)
    _serve(workspace, r.started_time - 30_000, _window(1, "primary", 400))  # the baseline
    (r,) = rollouts.tick(_step(workspace, r, _window(2, "canary", 100)))
    assert r.status == "pending_approval"
    (request,) = approvals.requests(name="churn")
    assert (request.version, request.alias) == (2, "production")
    assert f"request {request.request_id} is open" in r.reason
    assert r.reason.endswith("traffic is back on v1 until it is approved")
    assert registry.get_by_alias("churn", "production").version == 1
    assert _canary(Deployments(workspace.engine)) == [("primary", 1, 100.0)]
    (event,) = events.list_events(workspace.engine, action_prefix="rollout.approval_requested")
    assert event.payload["approval_request"] == request.request_id
    approvals.decide(request.request_id, approve=True, approver="reviewer")
    assert _canary(Deployments(workspace.engine)) == [("primary", 2, 100.0)]  # follows @alias


def test_start_refuses_a_second_rollout_and_the_primary(rollouts: Rollouts) -> None:
    with pytest.raises(ConflictError, match="already the primary") as err:
        rollouts.start("svc", "@production")
    assert err.value.field == "to"
    first = _start(rollouts)
    with pytest.raises(ConflictError, match=f"already has rollout {first.rollout_id} to v2"):
        rollouts.start("svc", 3)
    assert [r.rollout_id for r in rollouts.list_rollouts(status="running")] == [first.rollout_id]
    assert rollouts.current("svc").rollout_id == first.rollout_id


@pytest.mark.parametrize(
    ("kwargs", "field", "needle"),
    [
        ({"steps": [50, 20, 100]}, "steps", "must increase"),
        ({"steps": [0, 100]}, "steps", "above 0"),
        ({"steps": [20, 50]}, "steps", "last step must be 100"),
        ({"steps": []}, "steps", "ending at 100"),
        ({"interval_s": 0.5}, "interval_s", "at least 1 second"),
        ({"thresholds": {"max_p99": 1}}, "thresholds.max_p99", "unknown threshold"),
        ({"thresholds": {"min_success_rate": 2}}, "min_success_rate", "share in"),
        ({"to": "x"}, "to", "alias"),
    ],
)
def test_start_checks_its_arguments(
    rollouts: Rollouts, kwargs: dict[str, Any], field: str, needle: str
) -> None:
    options = {k: v for k, v in kwargs.items() if k != "to"}  # shared by both databases' runs
    with pytest.raises(InvalidArgumentError, match=needle) as err:
        rollouts.start("svc", kwargs.get("to", 2), **options)
    assert err.value.field == field
    assert rollouts.list_rollouts() == []


def test_start_names_missing_versions_and_ab_splits(
    rollouts: Rollouts, workspace: Workspace
) -> None:
    with pytest.raises(NotFoundError, match="no version 9") as err:
        rollouts.start("svc", 9)
    assert err.value.field == "to"
    with pytest.raises(NotFoundError, match="does not exist"):
        rollouts.start("nope", 2)
    Deployments(workspace.engine).set_arms("svc", [("a", "1", 50), ("b", "2", 50)])
    with pytest.raises(ConflictError, match="runs an A/B split"):
        rollouts.start("svc", 3)


def test_progress_reports_the_current_step(rollouts: Rollouts, workspace: Workspace) -> None:
    r = _start(rollouts)
    _serve(workspace, r.step_started_time, _window(2, "canary", 30), _window(1, "primary", 120))
    progress = rollouts.current("svc", progress=True).progress
    assert progress is not None
    assert (progress["candidate_requests"], progress["primary_requests"]) == (30, 120)
    assert progress["verdict"] == "wait"
    assert 0 < progress["remaining_s"] <= 60


def test_a_rollout_left_starting_by_a_dead_process_is_resumed(
    rollouts: Rollouts, workspace: Workspace
) -> None:
    r = _start(rollouts)
    with read(workspace.engine) as conn:
        assert conn.execute(select(schema.rollouts.c.status)).scalar() == "running"
    rollouts._claim(r, {"status": "starting"}, None, {})  # as if it died before routing
    Deployments(workspace.engine).clear_traffic("svc")
    assert rollouts.tick(r.step_started_time + 1000) == []  # maybe still routing
    (r,) = rollouts.tick(r.step_started_time + 61_000)
    assert r.status == "running"
    assert _canary(Deployments(workspace.engine))[1] == ("canary", 2, 20.0)
