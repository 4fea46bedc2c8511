"""PostgreSQL statistics are refreshed as Conveyor's tables grow."""

from __future__ import annotations

import time

from sqlalchemy import text

from conveyor.store import StatisticsKeeper
from conveyor.tracking import LocalClient, Workspace


def _analyzed(workspace: Workspace) -> bool:
    with workspace.engine.connect() as conn:
        last = conn.execute(
            text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'latest_metrics'")
        ).scalar()
    return last is not None


def test_analyze_runs_after_the_first_thousand_rows(pg_url: str, tmp_path: object) -> None:
    workspace = Workspace(pg_url, str(tmp_path))
    try:
        with workspace.engine.begin() as conn:  # forget any earlier test's statistics
            conn.execute(text("SELECT pg_stat_reset()"))
        client = LocalClient(workspace=workspace)
        run_id = client.create_run("0").run_id
        assert not _analyzed(workspace)
        client.log_batch(run_id, metrics=[(f"m{i}", 1.0, 1, 0) for i in range(1200)])
        deadline = time.monotonic() + 30
        while not _analyzed(workspace) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _analyzed(workspace)
    finally:
        workspace.close()


def test_keeper_is_inert_on_sqlite(sqlite_workspace: Workspace) -> None:
    keeper = StatisticsKeeper(sqlite_workspace.engine)
    keeper.note(10**6)
    assert keeper._running is False
