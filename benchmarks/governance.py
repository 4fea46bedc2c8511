"""Audit-chain verification over 1M entries, and lineage queries in a large registry.

Targets (issue 4): ``conveyor audit verify`` over 1M entries ≤ 10 s; lineage of one model
version in a registry of 10k versions and 100k runs, p50 ≤ 50 ms. Each figure is reported with
its physical limit measured in the same run: for verify, a bare ``sqlite3`` + ``hashlib`` loop
recomputing the same chain; for lineage, the primary-key lookup of the version alone.

The stores are filled by SQL into Conveyor's own tables (the public API would take many minutes
for 1M events or 100k runs; the tracking benchmark times that path).

    .venv/bin/python benchmarks/governance.py [--events 1000000] [--runs 100000] [--versions 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import insert

from conveyor.store import schema, write
from conveyor.store.events import GENESIS, _chain_hash
from conveyor.tracking import LocalClient, Workspace

sys.path.insert(0, str(Path(__file__).parent))
from _docs import replace_section

ROOT = Path(__file__).resolve().parents[1]


def fill_events(db: Path, n: int) -> None:
    """Append ``n`` chained events the way ``events.append`` computes them."""
    conn = sqlite3.connect(db)
    prev, rows, t0 = GENESIS, [], 1_700_000_000_000
    for seq in range(1, n + 1):
        payload = orjson.dumps(
            {"run_id": f"{seq:032x}", "points": 200, "digest": f"{seq * 7919:064x}"},
            option=orjson.OPT_SORT_KEYS,
        ).decode()
        digest = hashlib.sha256(payload.encode()).hexdigest()
        fields = ("alice", "tracking.batch_logged", f"runs:/{seq % 5000:032x}", digest)
        h = _chain_hash(prev, seq, t0 + seq, fields)
        rows.append((seq, t0 + seq, *fields[:3], payload, digest, prev, h))
        prev = h
        if len(rows) == 50_000:
            conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows)
            rows.clear()
    conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()


def bare_verify(db: Path) -> float:
    """The floor: read every row with sqlite3 and recompute both hashes, nothing else."""
    start = time.perf_counter()
    conn = sqlite3.connect(db)
    prev = GENESIS
    sha = hashlib.sha256
    for seq, t, actor, action, subject, payload, digest, prev_hash, h in conn.execute(
        "SELECT seq, time, actor, action, subject, payload, payload_digest, prev_hash, hash "
        "FROM events ORDER BY seq"
    ):
        ok = sha(payload.encode()).hexdigest() == digest and prev_hash == prev
        material = f"{prev}|{seq}|{t}|{actor}|{action}|{subject}|{digest}"
        if not ok or sha(material.encode()).hexdigest() != h:
            raise AssertionError(seq)
        prev = h
    conn.close()
    return time.perf_counter() - start


def bench_verify(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / ".conveyor"
        ws = Workspace(f"sqlite:///{home}/conveyor.db", str(home / "blobs"))
        ws.close()
        db = home / "conveyor.db"
        t = time.perf_counter()
        fill_events(db, n)
        print(f"filled {n:,} events in {time.perf_counter() - t:.1f} s", flush=True)
        env = {"CONVEYOR_HOME": str(home), "PATH": "/usr/bin:/bin"}
        cli = [str(ROOT / ".venv/bin/conveyor"), "audit", "verify"]
        best_cli = best_bare = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            out = subprocess.run(cli, env=env, capture_output=True, text=True, check=True)
            best_cli = min(best_cli, time.perf_counter() - start)
            best_bare = min(best_bare, bare_verify(db))
        assert f"{n} entries verified" in out.stdout, out.stdout
        return {"cli_s": best_cli, "bare_s": best_bare}


def fill_registry(ws: Workspace, runs: int, versions: int) -> list[str]:
    """100k runs with params, 1,000 dataset versions feeding them, ``versions`` model versions."""
    client = LocalClient(workspace=ws)
    experiment_id = int(client.create_experiment("lineage").experiment_id)
    rnd = random.Random(11)
    run_ids = [uuid.uuid4().hex for _ in range(runs)]
    n_datasets, per_dataset = 100, 10
    models = versions // 10
    with write(ws.engine) as conn:
        for chunk in range(0, runs, 10_000):
            ids = run_ids[chunk : chunk + 10_000]
            conn.execute(
                insert(schema.runs),
                [
                    {
                        "run_uuid": r,
                        "experiment_id": experiment_id,
                        "name": f"r{chunk + i}",
                        "user_id": "u",
                        "status": "FINISHED",
                        "start_time": 1000 + chunk + i,
                        "end_time": 2000 + chunk + i,
                        "lifecycle_stage": "active",
                        "artifact_uri": "mlflow-artifacts:/x",
                    }
                    for i, r in enumerate(ids)
                ],
            )
            conn.execute(
                insert(schema.params),
                [
                    {"run_uuid": r, "key": f"p{k}", "value": str(rnd.random())}
                    for r in ids
                    for k in range(10)
                ],
            )
            conn.execute(
                insert(schema.tags),
                [
                    {"run_uuid": r, "key": "mlflow.source.git.commit", "value": f"{i:040x}"}
                    for i, r in enumerate(ids)
                ],
            )
        conn.execute(
            insert(schema.datasets),
            [
                {
                    "name": f"data-{d}",
                    "project": "default",
                    "description": "",
                    "created_time": 0,
                    "updated_time": 0,
                }
                for d in range(n_datasets)
            ],
        )
        conn.execute(
            insert(schema.dataset_versions),
            [
                {
                    "dataset_id": d + 1,
                    "version": v + 1,
                    "digest": f"{d * 100 + v:064x}",
                    "kind": "parquet",
                    "snapshot_digest": f"{d * 100 + v:064x}",
                    "schema": "{}",
                    "row_count": 1000,
                    "size_bytes": 1,
                    "profile_digest": None,
                    "source": "",
                    "run_uuid": None,
                    "created_time": 0,
                }
                for d in range(n_datasets)
                for v in range(per_dataset)
            ],
        )
        conn.execute(
            insert(schema.run_inputs),
            [
                {
                    "run_uuid": r,
                    "dataset_id": i % n_datasets + 1,
                    "version": (i // n_datasets) % per_dataset + 1,
                    "context": "training",
                    "created_time": 0,
                }
                for i, r in enumerate(run_ids)
            ],
        )
        conn.execute(
            insert(schema.registered_models),
            [
                {
                    "name": f"model-{m}",
                    "project": "default",
                    "description": "",
                    "last_version": 10,
                    "created_time": 0,
                    "updated_time": 0,
                }
                for m in range(models)
            ],
        )
        picked = rnd.sample(run_ids, versions)
        conn.execute(
            insert(schema.model_versions),
            [
                {
                    "model_id": i // 10 + 1,
                    "version": i % 10 + 1,
                    "source": f"runs:/{r}/model",
                    "run_uuid": r,
                    "status": "READY",
                    "stage": "None",
                    "description": "",
                    "user_id": "u",
                    "created_time": 0,
                    "updated_time": 0,
                }
                for i, r in enumerate(picked)
            ],
        )
        conn.execute(
            insert(schema.model_aliases),
            [
                {"model_id": m + 1, "alias": "production", "version": 10, "updated_time": 0}
                for m in range(models)
            ],
        )
    return [f"models:/model-{m}/{v}" for m in range(models) for v in range(1, 11)]


def bench_lineage(url: str, runs: int, versions: int, queries: int = 300) -> dict[str, float]:
    from conveyor.registry.lineage import Lineage
    from conveyor.registry.service import Registry

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(url or f"sqlite:///{tmp}/conveyor.db", f"{tmp}/blobs")
        t = time.perf_counter()
        uris = fill_registry(ws, runs, versions)
        print(f"filled {runs:,} runs, {versions:,} versions in {time.perf_counter() - t:.1f} s")
        if not url:
            with ws.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        else:
            with ws.engine.connect() as conn:
                conn.exec_driver_sql("COMMIT")
                conn.exec_driver_sql("ANALYZE")
        lineage, registry = Lineage(ws.engine), Registry(ws.engine)
        rnd = random.Random(3)
        sample = [rnd.choice(uris) for _ in range(queries)]
        for uri in sample[:20]:  # warm the connection pool and statement caches
            lineage.of_model(uri)
        model_ms, lookup_ms, data_ms = [], [], []
        for uri in sample:
            start = time.perf_counter()
            graph = lineage.of_model(uri)
            model_ms.append((time.perf_counter() - start) * 1000)
            assert graph["run"] is not None, uri
            assert graph["datasets"], uri
            start = time.perf_counter()
            registry.resolve(uri)
            lookup_ms.append((time.perf_counter() - start) * 1000)
        for _ in range(50):
            start = time.perf_counter()
            down = lineage.of_dataset(f"data:data-{rnd.randrange(100)}@{rnd.randrange(1, 11)}")
            data_ms.append((time.perf_counter() - start) * 1000)
            assert down["runs"], down["subject"]
        ws.close()
        return {
            "model_p50_ms": statistics.median(model_ms),
            "model_p95_ms": statistics.quantiles(model_ms, n=20)[18],
            "lookup_p50_ms": statistics.median(lookup_ms),
            "dataset_p50_ms": statistics.median(data_ms),
            "runs_per_dataset_version": runs / 1000,
        }


def _pg_url() -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "bench_lineage" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "bench_lineage"'))
    admin.dispose()
    return "postgresql+psycopg://postgres@127.0.0.1:5432/bench_lineage"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    verify = bench_verify(args.events)
    print(json.dumps(verify), flush=True)
    lineage = {"SQLite": bench_lineage("", args.runs, args.versions)}
    print(json.dumps(lineage), flush=True)
    if not args.no_postgres:
        lineage["PostgreSQL"] = bench_lineage(_pg_url(), args.runs, args.versions)
        print(json.dumps(lineage["PostgreSQL"]), flush=True)
    machine = f"{platform.machine()}, {platform.processor() or platform.platform()}"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "`.venv/bin/python benchmarks/governance.py`"
    lines = [
        "## Governance: audit verification and lineage (issue 4)",
        "",
        f"{when}; {machine}; {cmd}.",
        "",
        "| measure | figure | limit in the same run | target |",
        "|---|---|---|---|",
        f"| `conveyor audit verify`, {args.events:,} entries (whole CLI process) | "
        f"{verify['cli_s']:.2f} s | bare sqlite3 + hashlib loop: {verify['bare_s']:.2f} s "
        f"({verify['cli_s'] / verify['bare_s']:.2f}x) | ≤ 10 s: "
        f"{'met' if verify['cli_s'] <= 10 else 'NOT met'} |",
    ]
    for db, r in lineage.items():
        lines.append(
            f"| lineage of one model version, {db}, {args.versions:,} versions, "
            f"{args.runs:,} runs: p50 (p95) | {r['model_p50_ms']:.2f} ms "
            f"({r['model_p95_ms']:.2f} ms) | version lookup alone: {r['lookup_p50_ms']:.2f} ms "
            f"| ≤ 50 ms: {'met' if r['model_p50_ms'] <= 50 else 'NOT met'} |"
        )
        lines.append(
            f"| lineage of one dataset version ({r['runs_per_dataset_version']:.0f} runs → their "
            f"model versions), {db}: p50 | {r['dataset_p50_ms']:.2f} ms | - | - |"
        )
    lines += ["", "Best of 3 for verify; 300 random versions for lineage (best run, one process)."]
    replace_section("governance", "\n".join(lines))


if __name__ == "__main__":
    main()
