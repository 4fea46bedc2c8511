"""Conveyor's side of the tracking benchmark (run with Conveyor's interpreter).

Each workload runs in a fresh process whose working directory is a fresh temp workspace; the
orchestrator points ``CONVEYOR_HOME`` (and, for PostgreSQL, ``CONVEYOR_DB_URL``) at it.
Usage: ``python benchmarks/_conveyor_workloads.py WORKLOAD JSON_PARAMS``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from _common import (
    BATCH_KEYS,
    SEARCH_EXPERIMENT,
    SEARCH_PAGE,
    Params,
    Result,
    SearchQuery,
    batch_points,
    clock,
    rate,
    run_main,
    run_payload,
    search_dataset,
    time_searches,
)


def log_metric_single(p: Params) -> Result:
    """(a) ``conveyor.log_metric`` N times, then ``end_run``: every point durable at the end."""
    import conveyor

    n: int = p["points"]
    run = conveyor.start_run(experiment="bench-single")
    log_metric = conveyor.log_metric
    with clock() as timer:
        for i in range(n):
            log_metric("loss", i * 0.001, step=i)
        conveyor.end_run()
    seconds = timer.seconds
    stored = len(conveyor.get_client().get_metric_history(run.run_id, "loss"))
    return {"points": n, "seconds": seconds, "points_per_s": rate(n, seconds), "stored": stored}


def log_batch_client(p: Params) -> Result:
    """(b) ``Client.log_batch`` with large batches (each call is one durable transaction)."""
    from conveyor import Client

    n: int = p["points"]
    batch: int = p["batch"]
    client = Client()  # type: ignore[abstract]  # Client() picks the transport
    experiment_id = client.create_experiment("bench-batch").experiment_id
    run_id = client.create_run(experiment_id).info.run_id
    points = batch_points(n)
    with clock() as timer:
        for start in range(0, n, batch):
            client.log_batch(run_id, metrics=points[start : start + batch])
    seconds = timer.seconds
    stored = len(client.get_metric_history(run_id, "m0")) * BATCH_KEYS
    return {
        "points": n,
        "batch": batch,
        "seconds": seconds,
        "points_per_s": rate(n, seconds),
        "stored": stored,
    }


def log_batch_fluent(p: Params) -> Result:
    """(b) ``conveyor.log_metric`` in a loop over the batched data set, then ``end_run``."""
    import conveyor

    n: int = p["points"]
    points = batch_points(n)
    run = conveyor.start_run(experiment="bench-batch")
    log_metric = conveyor.log_metric
    with clock() as timer:
        for key, value, _ts, step in points:
            log_metric(key, value, step=step)
        conveyor.end_run()
    seconds = timer.seconds
    stored = len(conveyor.get_client().get_metric_history(run.run_id, "m0")) * BATCH_KEYS
    return {"points": n, "seconds": seconds, "points_per_s": rate(n, seconds), "stored": stored}


_METRICS_DDL = (
    "CREATE TABLE metrics (run_uuid VARCHAR(32) NOT NULL, key VARCHAR(250) NOT NULL, "
    "step BIGINT NOT NULL, timestamp BIGINT NOT NULL, value FLOAT)"
)
_METRICS_INDEX = "CREATE INDEX ix_metrics_run_uuid_key_step ON metrics (run_uuid, key, step)"


def sqlite_limit(p: Params) -> Result:
    """(b) The physical limit: one ``executemany`` of N prebuilt rows in one transaction.

    Same PRAGMAs as Conveyor's engine (WAL, synchronous=NORMAL, 64 MiB cache) and the same table
    as Conveyor's ``metrics``, with or without its ``(run_uuid, key, step)`` index.
    """
    n: int = p["points"]
    indexed: bool = p["index"]
    conn = sqlite3.connect(Path("bare.db"), isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "cache_size = -65536"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(_METRICS_DDL)
    if indexed:
        conn.execute(_METRICS_INDEX)
    run_id = "0123456789abcdef0123456789abcdef"
    rows = [(run_id, key, step, ts, value) for key, value, ts, step in batch_points(n)]
    with clock() as timer:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO metrics VALUES (?,?,?,?,?)", rows)
        conn.execute("COMMIT")
    seconds = timer.seconds
    stored = conn.execute("SELECT count(*) FROM metrics").fetchone()[0]
    conn.close()
    return {
        "points": n,
        "index": indexed,
        "seconds": seconds,
        "points_per_s": rate(n, seconds),
        "stored": stored,
    }


def runs(p: Params) -> Result:
    """(c) Create a run, log 10 params and 10 metrics, end it; R times (fluent API)."""
    import conveyor

    n: int = p["runs"]
    conveyor.set_experiment("bench-runs")
    client = conveyor.get_client()  # opens (and migrates) the workspace before the clock starts
    payloads = [run_payload(i) for i in range(n)]
    with clock() as timer:
        for i, (params, metrics) in enumerate(payloads):
            with conveyor.start_run(run_name=f"run-{i}"):
                conveyor.log_params(params)
                conveyor.log_metrics(metrics)
    seconds = timer.seconds
    experiment = client.get_experiment_by_name("bench-runs")
    assert experiment is not None
    page = client.search_runs([experiment.experiment_id], max_results=n + 1)
    complete = sum(
        1 for r in page.runs if len(r.params) == 10 and all(f"m{j}" in r.metrics for j in range(10))
    )
    return {"runs": n, "seconds": seconds, "runs_per_s": rate(n, seconds), "complete": complete}


def search_populate(p: Params) -> Result:
    """(e) Fill an experiment through the public client: create_run + one log_batch per run."""
    from conveyor import Client

    n: int = p["runs"]
    client = Client()  # type: ignore[abstract]  # Client() picks the transport
    experiment_id = client.create_experiment(SEARCH_EXPERIMENT).experiment_id
    with clock() as timer:
        for run in search_dataset(n):
            run_id = client.create_run(
                experiment_id, run_name=run.name, start_time=run.start_time
            ).info.run_id
            client.log_batch(
                run_id,
                metrics=[(f"m{k}", v, run.start_time, 0) for k, v in enumerate(run.metrics)],
                params={f"p{k}": v for k, v in enumerate(run.params)},
            )
    seconds = timer.seconds
    return {"runs": n, "seconds": seconds, "runs_per_s": rate(n, seconds)}


def search_timed(p: Params) -> Result:
    """(e) Time ``search_runs`` (metric filter + order by, first page) in a fresh process."""
    from conveyor import Client

    client = Client()  # type: ignore[abstract]  # Client() picks the transport
    experiment = client.get_experiment_by_name(SEARCH_EXPERIMENT)
    assert experiment is not None
    eid = experiment.experiment_id

    def search(q: SearchQuery) -> list[str]:
        page = client.search_runs(
            [eid], filter_string=q.filter_string, order_by=q.order_by, max_results=SEARCH_PAGE
        )
        return [r.info.run_name for r in page.runs]

    return time_searches(search, p["queries"], p["budget_s"])


def http_ingest(p: Params) -> Result:
    """(f) Send N points to a Conveyor server through the native API (``HttpClient``)."""
    from conveyor.tracking.remote import HttpClient

    n: int = p["points"]
    batch: int = p["batch"]
    client = HttpClient(p["server"], timeout_s=600)
    experiment_id = client.create_experiment("bench-ingest").experiment_id
    run_id = client.create_run(experiment_id).info.run_id
    points = batch_points(n)
    with clock() as timer:
        for start in range(0, n, batch):
            client.log_batch(run_id, metrics=points[start : start + batch])
    seconds = timer.seconds
    return {"points": n, "batch": batch, "seconds": seconds, "points_per_s": rate(n, seconds)}


if __name__ == "__main__":
    run_main(
        {
            "log_metric_single": log_metric_single,
            "log_batch_client": log_batch_client,
            "log_batch_fluent": log_batch_fluent,
            "sqlite_limit": sqlite_limit,
            "runs": runs,
            "search_populate": search_populate,
            "search_timed": search_timed,
            "http_ingest": http_ingest,
        }
    )
