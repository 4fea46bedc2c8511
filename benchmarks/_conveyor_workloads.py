"""Conveyor's side of the tracking benchmark (run with Conveyor's interpreter).

Each workload runs in a fresh process whose working directory is a fresh temp workspace; the
orchestrator points ``CONVEYOR_HOME`` (and, for PostgreSQL, ``CONVEYOR_DB_URL``) at it.
Usage: ``python benchmarks/_conveyor_workloads.py WORKLOAD JSON_PARAMS``.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from _common import (
    BATCH_KEYS,
    REFERENCE_THRESHOLD,
    SEARCH_EXPERIMENT,
    SEARCH_PAGE,
    Params,
    Result,
    batch_points,
    rate,
    run_main,
    run_payload,
    search_dataset,
    search_queries,
    search_query,
    summarize_latencies,
)


def log_metric_single(p: Params) -> Result:
    """(a) ``conveyor.log_metric`` N times, then ``end_run``: every point durable at the end."""
    import conveyor

    n: int = p["points"]
    run = conveyor.start_run(experiment="bench-single")
    log_metric = conveyor.log_metric
    t0 = time.perf_counter()
    for i in range(n):
        log_metric("loss", i * 0.001, step=i)
    conveyor.end_run()
    seconds = time.perf_counter() - t0
    stored = len(conveyor.get_client().get_metric_history(run.run_id, "loss"))
    return {"points": n, "seconds": seconds, "points_per_s": rate(n, seconds), "stored": stored}


def log_batch_client(p: Params) -> Result:
    """(b) ``Client.log_batch`` with large batches (each call is one durable transaction)."""
    from conveyor import Client

    n: int = p["points"]
    batch: int = p["batch"]
    client = Client()
    experiment_id = client.create_experiment("bench-batch").experiment_id
    run_id = client.create_run(experiment_id).info.run_id
    points = batch_points(n)
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        client.log_batch(run_id, metrics=points[start : start + batch])
    seconds = time.perf_counter() - t0
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
    t0 = time.perf_counter()
    for key, value, _ts, step in points:
        log_metric(key, value, step=step)
    conveyor.end_run()
    seconds = time.perf_counter() - t0
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
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO metrics VALUES (?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
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
    t0 = time.perf_counter()
    for i, (params, metrics) in enumerate(payloads):
        with conveyor.start_run(run_name=f"run-{i}"):
            conveyor.log_params(params)
            conveyor.log_metrics(metrics)
    seconds = time.perf_counter() - t0
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
    client = Client()
    experiment_id = client.create_experiment(SEARCH_EXPERIMENT).experiment_id
    t0 = time.perf_counter()
    for run in search_dataset(n):
        run_id = client.create_run(
            experiment_id, run_name=run.name, start_time=run.start_time
        ).info.run_id
        client.log_batch(
            run_id,
            metrics=[(f"m{k}", v, run.start_time, 0) for k, v in enumerate(run.metrics)],
            params={f"p{k}": v for k, v in enumerate(run.params)},
        )
    seconds = time.perf_counter() - t0
    return {"runs": n, "seconds": seconds, "runs_per_s": rate(n, seconds)}


def search_timed(p: Params) -> Result:
    """(e) Time ``search_runs`` (metric filter + order by, first page) in a fresh process."""
    from conveyor import Client

    client = Client()
    experiment = client.get_experiment_by_name(SEARCH_EXPERIMENT)
    assert experiment is not None
    eid = experiment.experiment_id
    reference = search_query("filter+order other metric", REFERENCE_THRESHOLD)

    def timed(q: Any) -> tuple[float, list[str]]:
        t0 = time.perf_counter()
        page = client.search_runs(
            [eid], filter_string=q.filter_string, order_by=q.order_by, max_results=SEARCH_PAGE
        )
        seconds = time.perf_counter() - t0
        return seconds, [r.info.run_name for r in page.runs]

    first_s, reference_names = timed(reference)  # also the cold (first) query
    queries = search_queries(p["queries"])
    results = [timed(q) for q in queries]
    return {
        "cold_first_query_ms": first_s * 1000,
        "shapes": summarize_latencies(queries, [s for s, _ in results]),
        "page_sizes": sorted({len(names) for _, names in results}),
        "reference_names": reference_names,
    }


def http_ingest(p: Params) -> Result:
    """(f) Send N points to a Conveyor server through the native API (``HttpClient``)."""
    from conveyor.tracking.remote import HttpClient

    n: int = p["points"]
    batch: int = p["batch"]
    client = HttpClient(p["server"], timeout_s=600)
    experiment_id = client.create_experiment("bench-ingest").experiment_id
    run_id = client.create_run(experiment_id).info.run_id
    points = batch_points(n)
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        client.log_batch(run_id, metrics=points[start : start + batch])
    seconds = time.perf_counter() - t0
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
