"""Many processes at once: logging into one SQLite workspace, and opening a fresh workspace.

Every worker is a ``spawn`` process (a fresh interpreter, as separate training scripts are) that
waits at a barrier so that all of them hit the database at the same moment, and reports its
errors, and any warning Conveyor logged, to a JSON file.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from conveyor.store import current_revision, head_revision
from conveyor.tracking import LocalClient, Workspace

pytestmark = pytest.mark.slow

PROCESSES = 8
POINTS_PER_PROCESS = 5_000
JOIN_TIMEOUT_S = 180
FORBIDDEN = ("duplicate column", "already exists", "database is locked")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name} {record.levelname}: {record.getMessage()}")


def _report(out: str, result: dict[str, Any]) -> None:
    Path(out).write_text(json.dumps(result))


def _log_worker(home: str, index: int, barrier: Any, out: str) -> None:
    """One training script: its own run, POINTS_PER_PROCESS points through ``log_metric``."""
    result: dict[str, Any] = {"errors": []}
    handler = _Collect()
    try:
        os.environ.update(
            {
                "CONVEYOR_HOME": home,
                "CONVEYOR_CAPTURE_SYSTEM": "false",
                "CONVEYOR_FLUSH_INTERVAL_S": "0.01",  # many small write transactions
                "CONVEYOR_FLUSH_MAX_POINTS": "500",
            }
        )
        for name in ("CONVEYOR_SERVER", "CONVEYOR_DB_URL", "CONVEYOR_BLOB_URL"):
            os.environ.pop(name, None)
        logging.getLogger("conveyor").addHandler(handler)
        import conveyor

        barrier.wait(timeout=120)
        with conveyor.start_run(experiment="concurrency", run_name=f"worker-{index}") as run:
            result["run_id"] = run.run_id
            for step in range(POINTS_PER_PROCESS):
                conveyor.log_metric("loss", index * 1e6 + step, step=step, timestamp=index)
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
        result["errors"].append(traceback.format_exc())
    result["errors"].extend(handler.messages)
    _report(out, result)


def _open_worker(db_url: str, blob_url: str, index: int, barrier: Any, out: str) -> None:
    """One process opening a workspace that does not exist yet, then writing to it."""
    result: dict[str, Any] = {"errors": []}
    handler = _Collect()
    try:
        logging.getLogger("conveyor").addHandler(handler)
        barrier.wait(timeout=120)
        workspace = Workspace(db_url, blob_url)
        try:
            experiment = workspace.experiments.create(f"experiment-{index}")
            run = workspace.runs.create(experiment.experiment_id, run_name=f"run-{index}")
            result["run_id"] = run.run_id
        finally:
            workspace.close()
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
        result["errors"].append(traceback.format_exc())
    result["errors"].extend(handler.messages)
    _report(out, result)


def _run_all(target: Any, args: list[tuple[Any, ...]], out_dir: Path) -> list[dict[str, Any]]:
    """Start one spawn process per ``args`` behind a shared barrier; return their reports."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args))
    out_dir.mkdir()
    outs = [str(out_dir / f"{i}.json") for i in range(len(args))]
    procs = [
        ctx.Process(target=target, args=(*a, barrier, out), name=f"worker-{i}")
        for i, (a, out) in enumerate(zip(args, outs, strict=True))
    ]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=JOIN_TIMEOUT_S)
        assert [p.exitcode for p in procs] == [0] * len(procs)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)
            proc.close()
    results = [json.loads(Path(out).read_text()) for out in outs]
    errors = [e for r in results for e in r["errors"]]
    for phrase in FORBIDDEN:
        assert not [e for e in errors if phrase in e], f"{phrase!r} in a worker:\n{errors}"
    assert errors == [], "\n".join(errors)
    return results


def test_processes_logging_into_one_sqlite_workspace(tmp_path: Path) -> None:
    home = tmp_path / ".conveyor"
    db_url, blob_url = f"sqlite:///{home / 'conveyor.db'}", str(home / "blobs")
    Workspace(db_url, blob_url).close()  # the workspace exists; the runs start together

    results = _run_all(_log_worker, [(str(home), i) for i in range(PROCESSES)], tmp_path / "out")

    workspace = Workspace(db_url, blob_url)
    client = LocalClient(workspace=workspace)
    try:
        with workspace.engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM metrics")).scalar()
        assert total == PROCESSES * POINTS_PER_PROCESS
        experiment = client.get_experiment_by_name("concurrency")
        assert experiment is not None  # created once, although 8 processes asked at once
        runs = client.search_runs([experiment.experiment_id]).runs
        assert {r.run_id for r in runs} == {r["run_id"] for r in results}
        for index, result in enumerate(results):
            points = client.get_metric_history(result["run_id"], "loss")
            assert [(m.step, m.value, m.timestamp) for m in points] == [
                (step, index * 1e6 + step, index) for step in range(POINTS_PER_PROCESS)
            ]
            run = client.get_run(result["run_id"])
            assert run.info.status == "FINISHED"
            assert run.info.run_name == f"worker-{index}"
        assert not list((home / "spool").glob("*.json"))  # nothing had to be spooled
    finally:
        client.close()


def _check_fresh_workspace(workspace: Workspace, results: list[dict[str, Any]]) -> None:
    assert current_revision(workspace.engine) == head_revision()
    with workspace.engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        experiments = conn.execute(text("SELECT experiment_id, name FROM experiments")).all()
        runs = conn.execute(text("SELECT count(*) FROM runs")).scalar()
    assert versions == [head_revision()]
    assert [tuple(e) for e in experiments if e.name == "Default"] == [(0, "Default")]
    assert sorted(e.name for e in experiments) == sorted(
        ["Default", *(f"experiment-{i}" for i in range(PROCESSES))]
    )
    assert runs == PROCESSES
    assert len({r["run_id"] for r in results}) == PROCESSES


def test_processes_opening_a_fresh_sqlite_workspace(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / ".conveyor"  # not even the directory exists yet
    db_url, blob_url = f"sqlite:///{home / 'conveyor.db'}", str(home / "blobs")
    args = [(db_url, blob_url, i) for i in range(PROCESSES)]

    results = _run_all(_open_worker, args, tmp_path / "out")

    workspace = Workspace(db_url, blob_url)
    try:
        _check_fresh_workspace(workspace, results)
    finally:
        workspace.close()


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """The URL of a PostgreSQL database that does not exist yet (created empty, then dropped)."""
    from tests.conftest import PG_ADMIN_URL, REQUIRE_PG

    name = f"conveyor_fresh_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            if REQUIRE_PG:
                raise
            reason = f"PostgreSQL unreachable at {PG_ADMIN_URL} ({exc})"
            pytest.skip(f"{reason}; set CONVEYOR_REQUIRE_PG=1 to fail instead")
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_processes_opening_a_fresh_postgres_workspace(fresh_pg_url: str, tmp_path: Path) -> None:
    blob_url = str(tmp_path / "blobs")
    args = [(fresh_pg_url, blob_url, i) for i in range(PROCESSES)]

    results = _run_all(_open_worker, args, tmp_path / "out")

    workspace = Workspace(fresh_pg_url, blob_url)
    try:
        _check_fresh_workspace(workspace, results)
    finally:
        workspace.close()
