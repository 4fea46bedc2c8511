"""A real ``conveyor server`` killed with SIGKILL mid-run: no point lost, none stored twice."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import conveyor
from conveyor.errors import BackendUnavailableError
from conveyor.settings import get_settings
from conveyor.tracking import RunStatus, fluent
from conveyor.tracking.remote import HttpClient
from conveyor.tracking.spool import Spool
from tests.servers import ProcessServer, free_port, wait_for

pytestmark = pytest.mark.slow

KEY = "loss"
# (value, timestamp, step): what the history of KEY must hold, in step order.
Logged = list[tuple[float, int, int]]


class RestartableServer:
    """``conveyor server`` on a fixed port and workspace, killed and restarted at will."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: ProcessServer | None = None

    def start(self) -> None:
        assert self._process is None
        self._process = ProcessServer(self.home, self.port)
        self._process.start()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, in-flight requests cut."""
        if self._process is not None:
            self._process.kill()
            self._process = None


@pytest.fixture
def server(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RestartableServer]:
    """A server process on its own workspace; the fluent API logs to it (spool under ``home``)."""
    srv = RestartableServer(tmp_path / "server-workspace")
    try:
        srv.start()
        monkeypatch.setenv("CONVEYOR_SERVER", srv.url)
        monkeypatch.setattr(fluent, "END_RUN_FLUSH_TIMEOUT_S", 30.0)
        get_settings.cache_clear()
        fluent._reset_client()
        assert isinstance(conveyor.get_client(), HttpClient)
        yield srv
    finally:
        # End what a failed test left running without waiting for a dead server.
        monkeypatch.setattr(fluent, "END_RUN_FLUSH_TIMEOUT_S", 0.0)
        while fluent.active_run() is not None:
            with contextlib.suppress(BackendUnavailableError):
                fluent.end_run()
        fluent._reset_client()
        srv.kill()


def log_points(logged: Logged, count: int) -> float:
    """Log ``count`` more points of KEY (distinct steps); return the slowest call's seconds."""
    slowest = 0.0
    for _ in range(count):
        step = len(logged)
        value, ts = 1.0 / (step + 1), 1_700_000_000_000 + step
        started = time.perf_counter()
        conveyor.log_metric(KEY, value, step=step, timestamp=ts)
        slowest = max(slowest, time.perf_counter() - started)
        logged.append((value, ts, step))
    return slowest


def stored_history(run_id: str) -> Logged:
    return [
        (m.value, m.timestamp, m.step)
        for m in conveyor.get_client().get_metric_history(run_id, KEY)
    ]


def spooled_points(spool: Spool) -> Logged:
    """The KEY points waiting in the spool, in replay order."""
    points: Logged = []
    for path in spool.pending():
        record = orjson.loads(path.read_bytes())
        points.extend((v, ts, s) for k, v, ts, s in record["points"] if k == KEY)
    return points


def test_server_killed_mid_run_loses_no_point_and_stores_none_twice(
    server: RestartableServer, home: Path
) -> None:
    spool = Spool(home / "spool")
    logged: Logged = []
    with conveyor.start_run(experiment="outage", run_name="resilient") as run:
        conveyor.log_params({"phases": 3})
        log_points(logged, 2_000)  # phase 1: the server is up

        log_points(logged, 1_000)  # phase 2: killed in the middle, while batches are in flight
        server.kill()
        slowest = log_points(logged, 1_000)
        wait_for(lambda: len(spool) > 0, "undeliverable batches spooled to disk")

        slowest = max(slowest, log_points(logged, 1_000))  # phase 3: still down...
        server.start()  # ...back on the same port and workspace
        slowest = max(slowest, log_points(logged, 1_000))

    # Logging never blocked on the dead server (one retry cycle alone sleeps 0.75 s).
    assert slowest < 0.5, f"a log_metric call took {slowest:.3f}s during the outage"
    assert len(logged) == 6_000
    assert stored_history(run.run_id) == logged  # every point, exactly once
    assert len(spool) == 0
    assert not list(spool.directory.iterdir())  # no batch and no temp file left behind

    stored = conveyor.get_client().get_run(run.run_id)
    assert stored.info.status == RunStatus.FINISHED
    assert stored.params == {"phases": "3"}
    assert stored.metrics[KEY].step == 5_999


def test_end_run_while_the_server_stays_down_leaves_points_in_the_spool(
    server: RestartableServer, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fluent, "END_RUN_FLUSH_TIMEOUT_S", 0.5)
    spool = Spool(home / "spool")
    logged: Logged = []
    run = conveyor.start_run(run_name="interrupted")
    log_points(logged, 10)
    conveyor.flush()  # delivered before the outage
    server.kill()
    log_points(logged, 1_000)
    wait_for(lambda: len(spool) > 0, "undeliverable batches spooled to disk")
    log_points(logged, 1_000)  # logged while older batches wait in the spool

    with pytest.raises(BackendUnavailableError, match="cannot reach the Conveyor server"):
        conveyor.end_run()
    assert conveyor.active_run() is None
    # Everything not delivered is on disk, in order: nothing was left only in memory.
    assert spooled_points(spool) == logged[10:]

    server.start()
    client = conveyor.get_client()
    assert stored_history(run.run_id) == logged[:10]
    assert client.get_run(run.run_id).info.status == RunStatus.RUNNING  # end was not recorded

    # A later flush (here: after resuming the run) delivers the spooled points.
    with conveyor.start_run(run_id=run.run_id):
        conveyor.flush()
        assert stored_history(run.run_id) == logged
        assert len(spool) == 0
    assert client.get_run(run.run_id).info.status == RunStatus.FINISHED
    assert stored_history(run.run_id) == logged
