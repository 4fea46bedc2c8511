"""The quickstart's progressive delivery: shadow the runner-up, report, then roll it out.

The runner-up run's model is registered and first gets a copy of every request (a shadow whose
answers are kept, never returned); labels posted as feedback give the champion/challenger
report. Then a progressive rollout moves it through 20 / 50 / 100 % of live traffic, judging
each step on success rate, p99 latency and prediction shift, and promotes or rolls back.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from conveyor.cli.output import console

STEPS = (20.0, 50.0, 100.0)
STEP_S = 1.0
FLUSH_WAIT_S = 1.2  # the server flushes its traffic records every 0.5 s


def delivery_step(
    http: Any, ws: Any, deployment: str, model_name: str, run_id: str, *, x_val: Any, y_val: Any
) -> None:
    """Shadow the runner-up, print the report, then roll it out step by step."""
    import conveyor
    from conveyor.serving.deployments import Deployments

    deployments = Deployments(ws.engine)
    candidate = conveyor.register_model(f"runs:/{run_id}/model", model_name).version
    deployments.set_shadows(deployment, [(candidate, 100)])
    time.sleep(0.6)  # the replica polls the route table every 0.2 s
    ids = _send(http, x_val, prefix="shadow")
    from conveyor.serving.experiments.feedback import record_feedback

    record_feedback(ws.engine, deployment, ids, [int(v) for v in y_val[: len(ids)]])
    time.sleep(FLUSH_WAIT_S)
    _print_shadow(ws.engine, deployment, candidate, len(ids))
    deployments.set_shadows(deployment, [])
    _rollout(http, ws.engine, deployment, model_name, candidate, x_val)


def _send(http: Any, x_val: Any, *, prefix: str, count: int = 300) -> list[str]:
    ids = []
    for i in range(count):
        request_id = f"{prefix}-{i}"
        r = http.post(
            "/invocations",
            json={"inputs": x_val[i % len(x_val) : i % len(x_val) + 1].tolist()},
            headers={"x-request-id": request_id},
        )
        r.raise_for_status()
        ids.append(request_id)
    return ids


def _print_shadow(engine: Any, deployment: str, candidate: int, sent: int) -> None:
    from conveyor.serving.experiments.report import experiment_report

    shadows = experiment_report(engine, deployment)["shadows"]
    found = [s for s in shadows if s["version"] == candidate]
    if not found:
        console.print(f"   shadow: v{candidate} answered no copies yet")
        return
    r = found[0]["report"]
    shift = r["prediction_shift"] or {}
    metric = r["metric"]
    line = (
        f"   shadow: v{candidate} (runner-up) answered {r['n_pairs']} of {sent} copies, never "
        f"returned; agreement {r['agreement_rate']:.1%}, prediction PSI {shift.get('psi', 0):.4f}"
    )
    if metric is not None:
        low, high = metric["ci"] or (float("nan"), float("nan"))
        line += (
            f"; {metric['metric']} on {metric['n_labeled']} labels: champion "
            f"{metric['champion']:.3f}, challenger {metric['challenger']:.3f} "
            f"(difference 95 % CI [{low:+.3f}, {high:+.3f}])"
        )
    console.print(line)


def _rollout(
    http: Any, engine: Any, deployment: str, model_name: str, candidate: int, x_val: Any
) -> None:
    """Roll ``candidate`` out under live traffic, driving the controller in this process."""
    from conveyor.serving.rollouts import Rollouts

    rollouts = Rollouts(engine)
    rollout = rollouts.start(
        deployment,
        candidate,
        steps=STEPS,
        interval_s=STEP_S,
        thresholds={"min_requests": 20},
    )
    steps = " / ".join(f"{s:g} %" for s in STEPS)
    console.print(f"   rollout: v{candidate} through {steps}, {STEP_S:g} s per step")
    stop = threading.Event()
    traffic = threading.Thread(target=_traffic, args=(http, x_val, stop), daemon=True)
    traffic.start()
    try:
        deadline = time.monotonic() + 60
        seen = 0
        while rollout.finished_time is None and time.monotonic() < deadline:
            time.sleep(0.2)
            rollouts.tick()
            rollout = rollouts.get(rollout.rollout_id)
            for entry in rollout.history[seen:]:
                console.print(
                    f"     step {entry.get('percent', '?'):g} %: {entry.get('reason', '')}"
                )
            seen = len(rollout.history)
    finally:
        stop.set()
        traffic.join(timeout=10)
    if rollout.status == "pending_approval":  # @production is under the approval policy
        _approve(engine, model_name)
    elif rollout.status == "succeeded":
        console.print(f"   promoted: @production of {model_name!r} now points at v{candidate}")
    else:
        console.print(f"   {rollout.status}: {rollout.reason}")


def _approve(engine: Any, model_name: str) -> None:
    """The rollout opened a promotion request; the quickstart's reviewer approves it."""
    from conveyor.cli.quickstart_registry import REVIEWER
    from conveyor.registry.approvals import Approvals
    from conveyor.registry.service import Registry

    registry = Registry(engine)
    approvals = Approvals(registry)
    request = approvals.requests(name=model_name, state="pending")[0]
    console.print(
        f"   every step passed; @production needs an approval: the rollout opened request "
        f"{request.request_id[:8]}…"
    )
    approvals.decide(request.request_id, approver=REVIEWER, approve=True, comment="rollout passed")
    version = registry.resolve(f"models:/{model_name}@production").version
    console.print(
        f"   approved by {REVIEWER}: @production -> v{version}; the deployment follows it"
    )


def _traffic(http: Any, x_val: Any, stop: threading.Event) -> None:
    """Live traffic for the rollout (one client; a separate connection from the steps')."""
    import httpx

    i = 0
    with httpx.Client(base_url=str(http.base_url)) as own:
        while not stop.is_set():
            row = x_val[i % len(x_val) : i % len(x_val) + 1].tolist()
            own.post("/invocations", json={"inputs": row})
            i += 1
