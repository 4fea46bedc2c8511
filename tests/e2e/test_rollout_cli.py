"""``conveyor rollout`` as a user runs it: start (detached and followed), status, list, abort."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from conveyor.registry.service import Registry
from conveyor.serving.deployments import Deployments
from conveyor.serving.rollout_record import Rollout
from conveyor.serving.rollouts import Rollouts
from conveyor.serving.windows import TrafficWindow, write_windows
from conveyor.store import read, schema
from conveyor.tracking import Workspace


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """A workspace with model ``churn`` (versions 1-3, @production -> 1) and deployment svc."""
    ws = Workspace(f"sqlite:///{tmp_path}/.conveyor/conveyor.db", str(tmp_path / ".conveyor/blobs"))
    registry = Registry(ws.engine)
    for _ in range(3):
        registry.create_version("churn", "/models/m", create_model=True)
    registry.set_alias("churn", "production", 1)
    Deployments(ws.engine).create("svc", "models:/churn@production")
    ws.close()
    return tmp_path


def _env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["CONVEYOR_HOME"] = str(cwd / ".conveyor")
    env["CONVEYOR_USER"] = "alice"
    return env


def conveyor(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=_env(cwd),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_start_detached_status_list_and_abort(workspace_dir: Path) -> None:
    started = conveyor(
        workspace_dir, "rollout", "start", "svc", "--to", "2", "--steps", "10,100", "--detach"
    )
    assert started.returncode == 0, started.stderr
    assert "rollout 1: svc v1 → v2, steps 10 % → 100 %, 60 s each" in started.stdout
    status = conveyor(workspace_dir, "rollout", "status", "svc")
    assert status.returncode == 0, status.stderr
    assert "running at step 1/2 (10 %)" in status.stdout
    assert "candidate 0 requests" in status.stdout
    shown = json.loads(conveyor(workspace_dir, "rollout", "status", "svc", "--json").stdout)
    assert (shown["status"], shown["progress"]["verdict"]) == ("running", "wait")
    again = conveyor(workspace_dir, "rollout", "start", "svc", "--to", "3", "--detach")
    assert again.returncode == 4
    assert "already has rollout 1 to v2 running" in again.stderr
    listed = json.loads(conveyor(workspace_dir, "rollout", "list", "--json").stdout)
    assert [r["rollout_id"] for r in listed["rollouts"]] == [1]
    aborted = conveyor(workspace_dir, "rollout", "abort", "svc", "--reason", "wrong build")
    assert aborted.returncode == 0, aborted.stderr
    assert "aborted by alice: wrong build" in aborted.stdout
    shown = json.loads(conveyor(workspace_dir, "rollout", "status", "svc", "--json").stdout)
    assert shown["status"] == "aborted"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--steps", "50,20,100"), "steps must increase"),
        (("--interval", "5x"), "--interval must be a duration like 30s"),
        (("--interval", "500ms"), "interval_s must be at least 1 second"),
        (("--max-p99", "fast"), "--max-p99 must be a duration"),
        (("--min-success", "most"), "--min-success must be a number or 'off'"),
    ],
)
def test_start_rejects_bad_options_in_one_line(
    workspace_dir: Path, args: tuple[str, ...], message: str
) -> None:
    result = conveyor(workspace_dir, "rollout", "start", "svc", "--to", "2", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def _follow(cwd: Path, *, errors: int) -> tuple[subprocess.CompletedProcess[str], Rollout]:
    """Run ``rollout start`` in the foreground and feed it one step of synthetic traffic."""
    args = ["rollout", "start", "svc", "--to", "2", "--steps", "100", "--interval", "1s"]
    args += ["--min-requests", "10"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=_env(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ws = Workspace(f"sqlite:///{cwd}/.conveyor/conveyor.db", str(cwd / ".conveyor/blobs"))
    try:
        rollout = _running(Rollouts(ws.engine))
        with read(ws.engine) as conn:
            did = conn.execute(select(schema.deployments.c.deployment_id)).scalar_one()
        baseline = rollout.started_time - 500  # the primary before the 100 % step
        write_windows(ws.engine, did, "r", baseline, baseline + 500, [_window(1, "primary", 0)])
        start = rollout.step_started_time + 1
        write_windows(ws.engine, did, "r", start, start + 500, [_window(2, "canary", errors)])
        out, err = proc.communicate(timeout=30)
        done = Rollouts(ws.engine).get(rollout.rollout_id)
    finally:
        proc.kill()
        ws.close()
    return subprocess.CompletedProcess(args, proc.returncode, out, err), done


def _running(rollouts: Rollouts) -> Rollout:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = rollouts.list_rollouts(status="running")
        if found:
            return found[0]
        time.sleep(0.05)
    raise TimeoutError("the CLI did not start the rollout")


def _window(version: int, route: str, errors: int) -> TrafficWindow:
    window = TrafficWindow(version, route, requests=50, errors=errors)
    window.observe_latencies(np.full(50, 0.01))
    window.classes = {"0": 30, "1": 20}
    return window


def test_start_follows_to_the_promotion_and_exits_0(workspace_dir: Path) -> None:
    result, done = _follow(workspace_dir, errors=0)
    assert result.returncode == 0, result.stderr
    assert "step 1/1 (100 %) promote: pass: 50 requests >= 10" in result.stdout
    assert "succeeded: promoted v2: every step passed (100 %)" in result.stdout
    assert done.status == "succeeded"


def test_start_follows_to_the_rollback_and_exits_1(workspace_dir: Path) -> None:
    result, done = _follow(workspace_dir, errors=25)
    assert result.returncode == 1, result.stderr
    assert "failed: rolled back to v1 at step 1/1 (100 %): success rate 50.00% < 99.00%" in (
        result.stdout
    )
    assert done.status == "failed"
