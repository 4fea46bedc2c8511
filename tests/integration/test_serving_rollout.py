"""Progressive rollouts over real traffic: a ``conveyor serve --deployment`` replica on loopback
writes its traffic summaries, a load thread calls it, the rollout controller judges each step."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from conveyor.models import log_model
from conveyor.registry.service import Registry
from conveyor.serving.client import deployments_client
from conveyor.serving.controller import RolloutController
from conveyor.serving.deployments import Deployments
from conveyor.serving.factory import ServeSpec
from conveyor.serving.rollout_record import Rollout
from conveyor.serving.rollouts import Rollouts
from conveyor.store import events
from conveyor.tracking import LocalClient, Workspace
from conveyor.tracking.remote import HttpClient
from tests.integration.test_serving_http import Serving
from tests.servers import ThreadServer

LIMITS = {"min_requests": 20, "max_p99_latency_s": 1.0}


class Load:
    """Call both deployments as fast as one client can, 32 rows a request, until stopped."""

    def __init__(self, url: str, rows: np.ndarray) -> None:
        self._url, self._rows = url, rows
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.failures = 0

    def _run(self) -> None:
        rng = np.random.default_rng(0)
        with httpx.Client(base_url=self._url, timeout=10) as http:
            while not self._stop.is_set():
                for name in ("good", "bad"):
                    rows = self._rows[rng.integers(len(self._rows), size=32)]
                    r = http.post(f"/deployments/{name}/predict", json={"data": rows.tolist()})
                    self.failures += r.status_code != 200

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def _register(ws: Workspace, model: Any, x: pd.DataFrame) -> int:
    client = LocalClient(workspace=ws)
    run_id = client.create_run(client.get_or_create_experiment("rollout").experiment_id).info.run_id
    log_model(model, "model", input_example=x[:5], run_id=run_id, client=client)
    registry = Registry(ws.engine)
    return registry.create_version("bc", f"runs:/{run_id}/model", create_model=True).version


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Load]]:
    tmp: Path = tmp_path_factory.mktemp("rollout")
    ws = Workspace(f"sqlite:///{tmp}/conveyor.db", str(tmp / "blobs"))
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x.columns = [c.replace(" ", "_") for c in x.columns]
    healthy = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    assert _register(ws, healthy, x) == 1
    assert _register(ws, healthy, x) == 2  # the same model retrained: predicts alike
    constant = DecisionTreeClassifier().fit(x, np.zeros(len(x), dtype=np.int64))
    assert _register(ws, constant, x) == 3  # always "0": its predictions shift
    registry = Registry(ws.engine)
    registry.set_alias("bc", "production", 1)
    registry.set_alias("bc", "stable", 1)
    deployments = Deployments(ws.engine)
    deployments.create("good", "models:/bc@production")
    deployments.create("bad", "models:/bc@stable")
    spec = ServeSpec(deployments=["good", "bad"], poll_s=0.2, grace_s=0.5, window_s=0.5)
    controller = RolloutController(ws.engine, interval_s=0.2).start()
    with Serving(spec, ws) as server, Load(server.url, x.to_numpy()) as load:
        yield ws, load
    controller.stop()
    ws.close()


def _wait_finished(rollouts: Rollouts, rollout_id: int, timeout_s: float = 40) -> Rollout:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rollout = rollouts.get(rollout_id)
        if not rollout.is_active:
            return rollout
        time.sleep(0.2)
    raise TimeoutError(f"rollout {rollout_id} still {rollouts.get(rollout_id)}")


def _rollout_events(ws: Workspace, name: str) -> list[str]:
    found = events.list_events(ws.engine, subject=f"deployments:/{name}")
    return [e.action for e in found if e.action.startswith("rollout.")]


def test_a_healthy_candidate_is_promoted(setup: tuple[Workspace, Load]) -> None:
    ws, load = setup
    rollouts = Rollouts(ws.engine)
    started = rollouts.start("good", 2, steps=[20, 50, 100], interval_s=2, thresholds=LIMITS)
    done = _wait_finished(rollouts, started.rollout_id)
    assert done.status == "succeeded", done.reason
    assert [h["percent"] for h in done.history] == [20, 50, 100]
    assert all(h["candidate_requests"] >= 20 for h in done.history)
    assert done.history[-1]["primary_requests"] > 0  # the 50 % step's primary traffic
    assert Registry(ws.engine).get_by_alias("bc", "production").version == 2
    assert _rollout_events(ws, "good") == [
        "rollout.started",
        "rollout.step",
        "rollout.step",
        "rollout.promoted",
    ]
    served = {(v["version"], v["role"]) for v in Deployments(ws.engine).served_versions("good")}
    assert {(1, "primary"), (2, "canary"), (2, "primary")} <= served
    assert load.failures == 0


def test_a_candidate_that_predicts_otherwise_is_rolled_back(
    setup: tuple[Workspace, Load],
) -> None:
    ws, load = setup
    rollouts = Rollouts(ws.engine)
    started = rollouts.start("bad", 3, steps=[20, 50, 100], interval_s=2, thresholds=LIMITS)
    done = _wait_finished(rollouts, started.rollout_id)
    assert done.status == "failed"
    assert done.reason.startswith("rolled back to v1 at step 1/3 (20 %): prediction PSI")
    assert done.history[-1]["checks"]["prediction_psi"]["verdict"] == "fail"
    assert Registry(ws.engine).get_by_alias("bc", "stable").version == 1
    # the decision commits first (compare-and-set), the canary is cleared right after it
    deadline = time.monotonic() + 5
    while [r["name"] for r in Deployments(ws.engine).get("bad").routes] != ["primary"]:
        assert time.monotonic() < deadline, "the canary was not cleared after the rollback"
        time.sleep(0.05)
    assert _rollout_events(ws, "bad") == ["rollout.started", "rollout.rolled_back"]
    served = {(v["version"], v["role"]) for v in Deployments(ws.engine).served_versions("bad")}
    assert (3, "canary") in served
    assert load.failures == 0


def test_rest_api_and_the_servers_controller(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    registry = Registry(ws.engine)
    for _ in range(3):
        registry.create_version("churn", "/models/m", create_model=True)
    registry.set_alias("churn", "production", 1)
    Deployments(ws.engine).create("svc", "models:/churn@production")
    with ThreadServer(ws) as server, httpx.Client(base_url=server.url + "/api/v1") as raw:
        http = HttpClient(server.url)
        client = deployments_client(http)
        started = client.start_rollout("svc", "2", steps=[10, 100], thresholds={"min_requests": 5})
        assert (started.status, started.percent, started.interval_s) == ("running", 10, 60)
        shown = client.get_rollout("svc", progress=True)
        assert shown.rollout_id == started.rollout_id
        assert shown.progress is not None
        assert shown.progress["verdict"] == "wait"
        assert [r.rollout_id for r in client.list_rollouts(status="running")] == [1]
        assert [r.deployment for r in client.list_rollouts("svc")] == ["svc"]
        bad = raw.post("/deployments/svc/rollouts", json={"to": 3, "steps": [50, 20, 100]})
        assert (bad.status_code, bad.json()["error"]["field"]) == (400, "steps")
        busy = raw.post("/deployments/svc/rollouts", json={"to": 3})
        assert busy.status_code == 409
        assert busy.json() == {
            "error": {
                "code": "INVALID_STATE",
                "message": "deployment 'svc' already has rollout 1 to v2 running; wait for it or "
                "stop it with `conveyor rollout abort svc`",
                "field": "name",
            }
        }
        assert raw.get("/deployments/svc/rollouts/7").json()["error"]["field"] == "rollout_id"
        assert raw.get("/deployments/svc/rollouts/99999999999").status_code == 400
        assert raw.get("/deployments/nope/rollouts").status_code == 404
        aborted = client.abort_rollout("svc", reason="demo")
        assert aborted.status == "aborted"
        assert aborted.reason.endswith(": demo")
        # The server's controller stops a rollout whose canary was removed by hand.
        second = client.start_rollout("svc", 3, steps=[100])
        Deployments(ws.engine).clear_traffic("svc")
        deadline = time.monotonic() + 10
        while client.get_rollout("svc").status == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        stopped = client.get_rollout("svc", second.rollout_id)
        assert stopped.status == "aborted"
        assert "removed outside the rollout" in stopped.reason
        http.close()
