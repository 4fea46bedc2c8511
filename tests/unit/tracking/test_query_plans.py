"""Search and reads stay index-driven and free of N+1 queries as experiments grow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text

from conveyor.tracking import LocalClient, Workspace
from conveyor.tracking.filters import parse_filter, parse_order_by
from conveyor.tracking.search import build_search


@contextmanager
def count_queries(workspace: Workspace) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(workspace.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(workspace.engine, "before_cursor_execute", record)


def _populate(client: LocalClient, runs: int) -> str:
    exp = client.create_experiment("plans")
    for i in range(runs):
        run_id = client.create_run(exp.experiment_id).run_id
        client.log_batch(
            run_id,
            metrics=[(f"m{k}", float(i + k), 1, 0) for k in range(3)],
            params={f"p{k}": str(i) for k in range(3)},
            tags={"t": str(i)},
        )
    return exp.experiment_id


def test_search_uses_a_constant_number_of_queries(workspace: Workspace) -> None:
    client = LocalClient(workspace=workspace)
    exp_id = _populate(client, 120)
    for max_results in (10, 100):
        with count_queries(workspace) as statements:
            page = client.search_runs(
                [exp_id],
                filter_string="metrics.m0 >= 0",
                order_by=["metrics.m1 DESC"],
                max_results=max_results,
            )
        assert len(page.runs) == max_results
        assert all(len(r.params) == 3 and len(r.metrics) == 3 for r in page.runs)
        # runs page + params + tags + latest metrics (+ BEGIN on SQLite), whatever the page size
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 4


def test_get_run_does_not_read_metric_history(workspace: Workspace) -> None:
    client = LocalClient(workspace=workspace)
    run_id = client.create_run("0").run_id
    client.log_batch(run_id, metrics=[("loss", float(i), 1, i) for i in range(5000)])
    with count_queries(workspace) as statements:
        run = client.get_run(run_id)
    assert run.metrics["loss"].step == 4999
    assert not any("FROM metrics " in s for s in statements)


def _plan(workspace: Workspace, sql: str, params: dict[str, object]) -> str:
    with workspace.engine.connect() as conn:
        rows = conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params).all()
    return "\n".join(str(r[-1]) for r in rows)


def test_metric_filter_search_plan_uses_latest_metrics_index(sqlite_workspace: Workspace) -> None:
    client = LocalClient(workspace=sqlite_workspace)
    exp_id = _populate(client, 30)
    stmt = build_search(
        experiment_ids=[int(exp_id)],
        stages=("active",),
        clauses=parse_filter("metrics.m0 < 10"),
        order_by=parse_order_by(["metrics.m0"]),
        dialect="sqlite",
    ).limit(100)
    compiled = stmt.compile(sqlite_workspace.engine, compile_kwargs={"literal_binds": True})
    plan = _plan(sqlite_workspace, str(compiled), {})
    assert "ix_latest_metrics_experiment_id_key_value" in plan, plan
    assert "SCAN runs" not in plan, plan


def test_metric_history_plan_uses_index(sqlite_workspace: Workspace) -> None:
    plan = _plan(
        sqlite_workspace,
        "SELECT value FROM metrics WHERE run_pk = :r AND key = :k ORDER BY step",
        {"r": 1, "k": "loss"},
    )
    assert "ix_metrics_run_pk_key_step" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_latest_metric_upsert_plan_reads_one_step_through_the_index(
    sqlite_workspace: Workspace,
) -> None:
    from conveyor.tracking.metric_writes import _UPSERT_LATEST

    params = {"run_uuid": "r", "run_pk": 1, "experiment_id": 0, "key": "loss"}
    plan = _plan(sqlite_workspace, str(_UPSERT_LATEST), params)
    assert plan.count("ix_metrics_run_pk_key_step") == 2, plan  # max(step), then that step
    assert "SCAN" not in plan, plan
