"""Serving under route-table churn: two ``conveyor serve --deployment`` processes over one store
answer at least 20,000 requests while a controller moves ``@production`` five times and runs a
canary that is then rolled back.

Every route-table change is recorded with the monotonic times its write was issued and returned
(it committed in between); every request with its start and end times, status and the
``x-conveyor-model-version`` it got. A table may answer a request only while some replica can
hold it (see ``allowed_tables``), so the test checks every answer against the tables that were
committed around it, with an allowance for the replicas' poll lag that is much shorter than the
time between changes: most requests can be answered by exactly one table.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from conveyor.models import log_model
from conveyor.registry.service import Registry
from conveyor.serving.deployments import Deployments
from conveyor.tracking import LocalClient, Workspace
from tests.servers import free_port

N_REQUESTS = 20_000
CONCURRENCY = 24
POLL_S = 0.1
LAG_S = 1.0  # poll + load + swap under load; measured ~0.2 s on 2 busy cores
GAP_S = 2.0  # between changes: twice the allowance, so windows stay narrow
FINAL_S = 1.5  # traffic kept after the last change has propagated
DEADLINE_S = 45.0  # the load stops here whatever happened
CANARY = 5
DEPLOYMENT = "svc"


@dataclass(frozen=True, slots=True)
class Change:
    """A committed route-table change: it committed between ``before`` and ``after``."""

    label: str
    before: float
    after: float
    versions: frozenset[int]  # what the table answers with (routes with weight)


@dataclass(frozen=True, slots=True)
class Answer:
    start: float
    end: float
    status: int
    version: int | None
    request_id: str | None
    error: str = ""


def allowed_tables(changes: list[Change], start: float, end: float, lag_s: float) -> list[int]:
    """Indices of the tables a replica may have answered the request ``[start, end]`` from.

    Table ``i`` committed at some ``c_i`` in ``[before_i, after_i]``. No replica can hold it
    before ``c_i``, so it needs ``before_i <= end``. A replica keeps it until it has reconciled
    table ``i + 1``, at the latest ``c_{i+1} + lag_s <= after_{i+1} + lag_s``, so it also needs
    ``start <= after_{i+1} + lag_s`` (the last table never expires).
    """
    out = []
    for i, change in enumerate(changes):
        expires = changes[i + 1].after + lag_s if i + 1 < len(changes) else float("inf")
        if change.before <= end and start <= expires:
            out.append(i)
    return out


def test_allowed_tables_follow_commits_and_lag() -> None:
    changes = [
        Change("initial", 0.0, 0.0, frozenset({1})),
        Change("move", 10.0, 10.1, frozenset({2})),
        Change("move", 20.0, 20.1, frozenset({3})),
    ]
    assert allowed_tables(changes, 1.0, 2.0, 1.0) == [0]
    assert allowed_tables(changes, 10.5, 10.6, 1.0) == [0, 1]  # a replica may lag
    assert allowed_tables(changes, 11.2, 11.3, 1.0) == [1]  # past the allowance
    assert allowed_tables(changes, 9.0, 10.05, 1.0) == [0, 1]  # ends after the write began
    assert allowed_tables(changes, 30.0, 31.0, 1.0) == [2]


# -- setup -------------------------------------------------------------------------------------
def _register_versions(ws: Workspace, count: int) -> list[int]:
    """``count`` versions of a small tree model, each fitted differently."""
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    y = (x.a + x.b > 0).astype(int)
    client = LocalClient(workspace=ws)
    exp = client.get_or_create_experiment("faults")
    registry = Registry(ws.engine)
    versions = []
    for depth in range(1, count + 1):
        run_id = client.create_run(exp.experiment_id).info.run_id
        model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(x, y)
        log_model(model, "model", input_example=x[:3], run_id=run_id, client=client)
        uri = f"runs:/{run_id}/model"
        versions.append(registry.create_version("m", uri, create_model=True).version)
    return versions


@contextmanager
def _replicas(ws: Workspace, count: int, logs: Path) -> Iterator[list[int]]:
    """``count`` ``conveyor serve --deployment`` processes over ``ws``; yields their ports."""
    env = {**os.environ, "CONVEYOR_DB_URL": ws.db_url, "CONVEYOR_BLOB_URL": ws.blob_url}
    ports = [free_port() for _ in range(count)]
    procs = []
    for i, port in enumerate(ports):
        cmd = [sys.executable, "-m", "conveyor", "serve", "--deployment", DEPLOYMENT]
        cmd += ["--port", str(port), "--poll-s", str(POLL_S)]
        with (logs / f"replica-{i}.log").open("wb") as out:
            procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT))
    try:
        for port, proc in zip(ports, procs, strict=True):
            _wait_ready(port, proc)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"replica on port {port} exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"replica on port {port} was not ready in 90 s")


# -- the load generator and the controller ------------------------------------------------------
class Load:
    """``CONCURRENCY`` threads, each with one keep-alive connection to one replica."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.answers: list[Answer] = []  # list.append is atomic: threads share it
        self.stop = threading.Event()
        self._body = orjson.dumps({"data": [[0.3, -0.2, 0.1, 0.5]]})
        self._threads = [
            threading.Thread(target=self._run, args=(ports[i % len(ports)],), daemon=True)
            for i in range(CONCURRENCY)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"content-type": "application/json"}
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                conn.request("POST", f"/deployments/{DEPLOYMENT}/predict", self._body, headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.answers.append(Answer(start, time.monotonic(), 0, None, None, repr(exc)))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            version = response.getheader("x-conveyor-model-version")
            self.answers.append(
                Answer(
                    start,
                    time.monotonic(),
                    response.status,
                    int(version) if version else None,
                    response.getheader("x-request-id"),
                )
            )
        conn.close()


def _control(ws: Workspace, plan: list[tuple[str, Callable[[], object]]]) -> list[Change]:
    """Apply ``plan`` one step every ``GAP_S`` seconds, recording each commit and its table."""
    deployments = Deployments(ws.engine)

    def versions() -> frozenset[int]:
        table = deployments.route_table(DEPLOYMENT)
        return frozenset(r.version for r in table.routes if r.weight > 0)

    changes = [Change("initial", -1.0, -1.0, versions())]
    next_at = time.monotonic() + GAP_S
    for label, apply in plan:
        time.sleep(max(0.0, next_at - time.monotonic()))
        before = time.monotonic()
        apply()
        after = time.monotonic()
        changes.append(Change(label, before, after, versions()))
        next_at = after + GAP_S
    return changes


def _drive(
    ws: Workspace, ports: list[int], plan: list[tuple[str, Callable[[], object]]]
) -> tuple[list[Change], list[Answer]]:
    load = Load(ports)
    load.start()
    changes = _control(ws, plan)
    last = changes[-1].after
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and (
        len(load.answers) < N_REQUESTS or time.monotonic() < last + LAG_S + FINAL_S
    ):
        time.sleep(0.05)
    load.join()
    return changes, sorted(load.answers, key=lambda a: a.start)


# -- the test ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_no_request_fails_and_every_answer_fits_the_route_table(
    workspace: Workspace, tmp_path: Path
) -> None:
    v1, v2, v3, v4, canary = _register_versions(workspace, 5)
    assert canary == CANARY
    registry = Registry(workspace.engine)
    deployments = Deployments(workspace.engine)
    registry.set_alias("m", "production", v1)
    deployments.create(DEPLOYMENT, "models:/m@production")

    def move(version: int) -> tuple[str, Callable[[], object]]:
        return f"@production -> {version}", lambda: registry.set_alias("m", "production", version)

    plan = [
        move(v2),
        move(v3),
        ("canary 30%", lambda: deployments.set_canary(DEPLOYMENT, canary, 30)),
        move(v4),  # the primary moves under the canary
        ("rollback", lambda: deployments.clear_traffic(DEPLOYMENT)),
        move(v1),
        move(v2),
    ]
    with _replicas(workspace, 2, tmp_path) as ports:
        changes, answers = _drive(workspace, ports, plan)

    assert len(answers) >= N_REQUESTS
    failed = [a for a in answers if a.status != 200]
    assert not failed, f"{len(failed)} requests failed, first: {failed[:3]}"
    ids = [a.request_id for a in answers]
    assert all(ids), "a response had no x-request-id"
    assert len(set(ids)) == len(ids)
    _check_versions(changes, answers)
    _check_canary(changes, answers)
    _check_final(changes, answers, v2)


def _check_versions(changes: list[Change], answers: list[Answer]) -> None:
    assert [c.versions for c in changes] == [
        {1},
        {2},
        {3},
        {3, CANARY},
        {4, CANARY},
        {4},
        {1},
        {2},
    ]
    wrong, narrow = [], 0
    served_steady: list[set[int]] = [set() for _ in changes]
    for answer in answers:
        tables = allowed_tables(changes, answer.start, answer.end, LAG_S)
        allowed = set().union(*(changes[i].versions for i in tables))
        if answer.version not in allowed:
            wrong.append((answer, [changes[i].label for i in tables]))
        if len(tables) == 1:
            narrow += 1
            served_steady[tables[0]].add(answer.version or 0)
    assert not wrong, f"{len(wrong)} answers from a version no table allowed, first: {wrong[:3]}"
    # the check has teeth: most requests could be answered by one table only ...
    assert narrow / len(answers) > 0.3
    # ... and each table was seen alone, answering with exactly its versions
    assert served_steady == [set(c.versions) for c in changes]


def _check_canary(changes: list[Change], answers: list[Answer]) -> None:
    on = next(c for c in changes if c.label.startswith("canary"))
    off = next(c for c in changes if c.label == "rollback")
    canary = [a for a in answers if a.version == CANARY]
    assert canary, "the canary never answered"
    assert all(a.end >= on.before and a.start <= off.after + LAG_S for a in canary)
    steady = [a for a in answers if a.start > on.after + LAG_S and a.end < off.before]
    share = sum(a.version == CANARY for a in steady) / len(steady)
    assert 0.2 < share < 0.4, share  # 30 % of the traffic


def _check_final(changes: list[Change], answers: list[Answer], final: int) -> None:
    settled = [a for a in answers if a.start > changes[-1].after + LAG_S]
    assert len(settled) > 100
    assert {a.version for a in settled} == {final}
