"""Conveyor-only search latency at scale, SQLite and PostgreSQL, after the segmented search.

`benchmarks/tracking.py` (section e) compares with MLflow, whose search over 100k runs takes
minutes per query here; this script times Conveyor alone in a few minutes. The store is filled
by SQL into Conveyor's own tables (100k runs x 20 latest metrics x 10 params; the public API
takes ~4 min for that, see tracking.py), then statistics are gathered as Conveyor's
StatisticsKeeper would after such a load.

    .venv/bin/python benchmarks/search.py [--runs 100000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from conveyor.store import schema
from conveyor.tracking import LocalClient, Workspace

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SHAPES = {"filter+order same metric": ("m0", "m0"), "filter+order other metric": ("m0", "m1")}
THRESHOLDS = [0.1 + 0.8 * k / 9 for k in range(10)]


def populate(workspace: Workspace, runs: int) -> str:
    experiment_id = int(LocalClient(workspace=workspace).create_experiment("big").experiment_id)
    rnd = random.Random(7)
    run_rows, metric_rows, param_rows = [], [], []
    for i in range(runs):
        run_id = uuid.uuid4().hex
        run_rows.append(
            {
                "run_uuid": run_id,
                "experiment_id": experiment_id,
                "name": f"r{i}",
                "user_id": "u",
                "status": "FINISHED",
                "start_time": 1000 + i,
                "end_time": None,
                "lifecycle_stage": "active",
                "artifact_uri": "mlflow-artifacts:/x",
            }
        )
        metric_rows += [
            {
                "run_uuid": run_id,
                "key": f"m{k}",
                "experiment_id": experiment_id,
                "step": 0,
                "timestamp": 1,
                "value": rnd.random(),
            }
            for k in range(20)
        ]
        param_rows += [{"run_uuid": run_id, "key": f"p{k}", "value": str(k)} for k in range(10)]
    with workspace.engine.begin() as conn:
        conn.execute(schema.runs.insert(), run_rows)
        conn.execute(schema.latest_metrics.insert(), metric_rows)
        conn.execute(schema.params.insert(), param_rows)
        conn.exec_driver_sql("ANALYZE")
    return str(experiment_id)


def time_queries(client: LocalClient, experiment_id: str) -> dict[str, dict[str, float]]:
    out = {}
    for shape, (filtered, ordered) in SHAPES.items():
        client.search_runs(
            [experiment_id],
            filter_string=f"metrics.{filtered} < 0.5",
            order_by=[f"metrics.{ordered} DESC"],
            max_results=100,
        )  # warm-up
        latencies = []
        for t in THRESHOLDS:
            start = time.perf_counter()
            page = client.search_runs(
                [experiment_id],
                filter_string=f"metrics.{filtered} < {t}",
                order_by=[f"metrics.{ordered} DESC"],
                max_results=100,
            )
            latencies.append((time.perf_counter() - start) * 1000)
            assert len(page.runs) == 100
            values = [r.metrics[ordered].value for r in page.runs]
            assert values == sorted(values, reverse=True)
        out[shape] = {"p50_ms": statistics.median(latencies), "max_ms": max(latencies)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(f"sqlite:///{tmp}/conveyor.db", f"{tmp}/blobs")
        results["SQLite"] = time_queries(LocalClient(workspace=ws), populate(ws, args.runs))
        ws.close()
        if not args.no_postgres:
            name = f"conveyor_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                ws = Workspace(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", f"{tmp}/blobs")
                results["PostgreSQL"] = time_queries(
                    LocalClient(workspace=ws), populate(ws, args.runs)
                )
                ws.close()
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(json.dumps({"runs": args.runs, "results": results}, indent=2))
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    Path("benchmarks/results/search.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
