"""Serving benchmark: Conveyor's model server against ``mlflow models serve`` and BentoML (issue 5).

Usage (from the repository root; run it alone on the machine, it saturates the cores)::

    .venv/bin/python benchmarks/serving.py                      # full: 10 s per point, ~10 min
    .venv/bin/python benchmarks/serving.py --duration 3 --connections 8 --only mlflow,bentoml
    .venv/bin/python benchmarks/serving.py --render-only        # rewrite the docs section

**Model.** ``RandomForestClassifier(n_estimators=50, random_state=0)`` fitted on scikit-learn's
breast-cancer data (569 rows x 30 named columns, a DataFrame), trained once per run and pickled;
every side loads that one pickle (each virtualenv gets Conveyor's scikit-learn version), so the
three servers hold the very same trees:

* Conveyor: ``conveyor.log_model(model, "model", input_example=X[:5])`` inside
  ``conveyor.start_run()``, ``conveyor.register_model("runs:/ID/model", "bench")`` and
  ``conveyor models alias bench production 1``; served as ``models:/bench@production``.
* MLflow: ``mlflow.sklearn.save_model(model, DIR, input_example=X[:5])`` in the MLflow peer
  virtualenv (``benchmarks/.venvs/mlflow``, the tracking benchmark's, plus uvloop/httptools).
* BentoML: ``bentoml.sklearn.save_model("bench", model)`` in ``benchmarks/.venvs/bentoml``,
  served by the service in ``benchmarks/_serving_bentoml_service.py``.

**Servers** (``benchmarks/_serving_sides.py``), each with the same number of worker processes,
``--workers`` (default: one per core, BentoML's advice for CPU-bound models), and no access log:

* ``mlflow models serve -m DIR --env-manager local --workers N`` (MLflow's uvicorn scoring
  server). MLflow's own default is one worker; N workers is its best case here. Its virtualenv
  gets uvloop and httptools (uvicorn's ``standard`` extra): under the plain asyncio loop,
  uvicorn's multi-worker mode leaves Nagle's algorithm on, which stalls each keep-alive
  response ~40 ms on a delayed ACK.
* ``bentoml serve`` of an idiomatic BentoML 1.4 ``@bentoml.service(workers=N)`` whose
  ``@bentoml.api(batchable=True)`` method takes an ``np.ndarray``: adaptive batching on, with
  BentoML's defaults (``max_batch_size=100``, ``max_latency_ms=60000``), BentoML's best case.
* ``conveyor serve models:/bench@production --workers N`` with its defaults.

**Requests.** MLflow's ``/invocations`` with a ``dataframe_split`` body (MLflow and Conveyor),
BentoML's ``/predict`` with ``{"input": [[...]]}``, and Conveyor's OIP v2
``/v2/models/bench/infer`` (shaped by ``GET /v2/models/bench``) as an extra row. Before a
server is loaded, each of its endpoints must answer a 1-row and a 100-row request with exactly
the predictions of ``model.predict``; it is checked again after the load.

**Load generator.** ``wrk`` (Debian's package, installed with apt-get when missing), a
separate process, keep-alive connections, a Lua script that POSTs the body and prints wrk's
exact percentiles (``benchmarks/_serving_wrk.py``); ``-t1`` at one connection, else ``-t2``;
request timeout 30 s, so slow servers are measured rather than cut off. Each point runs
``--warmup`` seconds (discarded), then ``--duration`` seconds. Any error (a status >= 400 or
a socket error) fails the point and every target that uses it.

**Rows** (``--only`` also takes row names): ``load``: 1-row requests at each of
``--connections``; ``floor``: a trivial GET at one connection (the loopback floor:
``/v2/health/live``, ``/ping``, ``/livez``); ``batch``: 100-row requests at
``--batch-connections``. In-process, ``model.predict`` on the same single row is timed (p50 of
300 calls on a one-row DataFrame and on a 1x30 array) before any server starts.

**Targets.** At 32 and 64 connections Conveyor's ``/invocations`` throughput ≥ 10x MLflow's
and ≥ 3x BentoML's with p99 ≤ 100 ms; at one connection Conveyor's p50 minus ``predict``'s p50
(the array call, the faster of the two) ≤ 0.5 ms; 100-row requests ≥ 10,000 predictions/s.

**Live-traffic rows** (Conveyor only, ``benchmarks/_serving_live.py``): ``monitoring``: 1-row
``/invocations`` at 32 connections without, then with a monitor on the served model (the
recorder feeding it), target on ÷ off throughput ≥ 0.95; ``hotswap``: a ~50 MB model under
32-connection load from ``_serving_probe.py`` (every request's latency and answering version
kept) while its alias moves to another ~50 MB version, target: no request in the swap window
above 2x the steady p99. ``--only monitoring`` or ``--only hotswap`` runs one alone.

Writes ``benchmarks/results/serving.json`` (``--results``) and the "serving" section of
``docs/benchmarks.md`` (unless ``--no-docs``); exits 2 when a target is missed.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _serving_wrk as wrk
from _docs import replace_section
from _serving_live import measure_hotswap, measure_monitoring
from _serving_model import columns as model_columns
from _serving_model import expected, predict_p50_ms, request_rows, train
from _serving_report import judge, machine, render
from _serving_servers import ServerError, ServerProcess, get_json, post_json, stop_all
from _serving_sides import ENSURE, SIDES, Endpoint, Side, conveyor_serve_available, setup
from tracking import WORK_ROOT, git_state, log

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "serving.json"
BATCH_ROWS = 100


@dataclass
class Context:
    """What every row of one benchmark run shares."""

    args: argparse.Namespace
    workdir: Path
    columns: list[str]
    rows: dict[int, list[list[float]]]  # request size -> rows
    labels: dict[int, list[int]]  # request size -> expected predictions


@dataclass
class Served:
    """One running server under test, its request bodies by (endpoint key, request size)."""

    ctx: Context
    side: Side
    server: ServerProcess
    bodies: dict[tuple[str, int], bytes] = field(default_factory=dict)

    def url(self, endpoint: Endpoint) -> str:
        """The endpoint's URL on this server."""
        return self.server.url + endpoint.path

    def load(self, endpoint: Endpoint, size: int, connections: int) -> wrk.Load:
        """Warm up, then measure ``size``-row requests at ``connections``."""
        body = self.bodies[(endpoint.key, size)]
        args = self.ctx.args
        if args.warmup > 0:
            wrk.run(self.url(endpoint), connections=connections, duration_s=args.warmup, body=body)
        result = wrk.run(
            self.url(endpoint),
            connections=connections,
            duration_s=args.duration,
            body=body,
            server_timing=connections == 1,  # the model's share of each request's latency
        )
        log(f"    {self.side.name} {endpoint.key} rows={size} c={connections}: {_brief(result)}")
        return result


def _brief(load: wrk.Load) -> str:
    if load.failure:
        return f"FAILED {load.failure}"
    text = f"{load.rps:,.0f} req/s, p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms"
    return text + (f", ERRORS {load.errors}" if load.error_count else "")


# -------------------------------------------------------------------------------------------
# Rows: each measures one thing on one running server. To add one (hot swap, monitoring on):
# write `def measure_x(served: Served) -> dict`, register `"x": Row(measure_x, frozenset({...}))`
# below (`--only x` then runs it alone), and add its target to `_serving_report.judge`. A row
# that needs a differently started server (e.g. monitoring on) starts its own `ServerProcess`
# from `served.side.argv(...)` plus its flags; a hot-swap row moves the alias with
# `conveyor models alias bench production V` under `served.side.env(workdir, workers)`.
# -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A measurement taken on each running server of ``sides``."""

    measure: Callable[[Served], dict[str, Any]]
    sides: frozenset[str]
    default: bool = True  # measured unless ``--only`` names rows


def measure_load(served: Served) -> dict[str, Any]:
    """1-row requests on every endpoint at each ``--connections``."""
    return {
        endpoint.key: {
            str(c): served.load(endpoint, 1, c).as_dict() for c in served.ctx.args.connections
        }
        for endpoint in served.side.endpoints
    }


def measure_floor(served: Served) -> dict[str, Any]:
    """A trivial GET at one connection: the cost of a request with no model behind it."""
    url = served.server.url + served.side.floor_path
    args = served.ctx.args
    if args.warmup > 0:
        wrk.run(url, connections=1, duration_s=args.warmup, method="GET")
    result = wrk.run(url, connections=1, duration_s=args.duration, method="GET")
    log(f"    {served.side.name} floor GET {served.side.floor_path}: {_brief(result)}")
    return {"path": served.side.floor_path, **result.as_dict()}


def measure_batch(served: Served) -> dict[str, Any]:
    """``BATCH_ROWS``-row requests on every endpoint at ``--batch-connections``."""
    c = served.ctx.args.batch_connections
    out: dict[str, Any] = {}
    for endpoint in served.side.endpoints:
        result = served.load(endpoint, BATCH_ROWS, c)
        out[endpoint.key] = {**result.as_dict(), "predictions_per_s": result.rps * BATCH_ROWS}
    return {"rows": BATCH_ROWS, "connections": c, "endpoints": out}


ALL_SIDES = frozenset(SIDES)
ROWS: dict[str, Row] = {
    "load": Row(measure_load, ALL_SIDES),
    "floor": Row(measure_floor, ALL_SIDES),
    "batch": Row(measure_batch, ALL_SIDES),
    "monitoring": Row(measure_monitoring, frozenset({"conveyor"})),
    "hotswap": Row(measure_hotswap, frozenset({"conveyor"})),
}

# -------------------------------------------------------------------------------------------
# One side: set up, start, verify, measure, verify, stop
# -------------------------------------------------------------------------------------------


def verify(served: Served, metadata: Any) -> None:
    """Build every body and check each endpoint answers exactly ``model.predict``'s labels."""
    ctx = served.ctx
    for endpoint in served.side.endpoints:
        for size, rows in ctx.rows.items():
            body = served.bodies.setdefault(
                (endpoint.key, size), endpoint.encode(rows, ctx.columns, metadata)
            )
            status, answer = post_json(served.url(endpoint), body)
            try:
                got = endpoint.decode(answer) if status == 200 else None
            except (KeyError, IndexError, TypeError, ValueError):
                got = None
            if got != ctx.labels[size]:
                shown = str(answer)[:300]
                msg = (
                    f"{served.side.name} {endpoint.path} ({size} rows) answered {status} {shown}; "
                    f"expected {ctx.labels[size][:10]}...\nserver log:\n{served.server.log_tail()}"
                )
                raise ServerError(msg)


def model_metadata(server: ServerProcess, side: Side) -> Any:
    """The OIP model metadata, when the side has it (request bodies are shaped by it)."""
    if side.metadata_path is None:
        return None
    try:
        return get_json(server.url + side.metadata_path)
    except (OSError, ValueError) as exc:
        log(f"  {side.name}: no model metadata at {side.metadata_path} ({exc}); one tensor")
        return None


def run_side(ctx: Context, side: Side, rows: list[str]) -> dict[str, Any]:
    """Measure ``rows`` on one freshly started server; errors are recorded, not raised."""
    args = ctx.args
    out: dict[str, Any] = {"config": side.config(args.workers), "rows": {}}
    if side.name == "conveyor" and not conveyor_serve_available():
        out["error"] = "`conveyor serve` is not available in this virtualenv"
        return out
    try:
        out["setup"] = setup(side, ctx.workdir, args.workers)
        argv, env = side.argv(ctx.workdir, args.workers), side.env(ctx.workdir, args.workers)
        with ServerProcess(
            side.name, argv, env=env, cwd=ctx.workdir, ready_path=side.ready_path
        ) as server:
            served = Served(ctx, side, server)
            meta = model_metadata(server, side)
            verify(served, meta)
            out["processes"] = server.processes()
            for name in rows:
                if side.name in ROWS[name].sides:
                    out["rows"][name] = ROWS[name].measure(served)
            verify(served, meta)
    except (ServerError, RuntimeError, OSError, ValueError) as exc:
        log(f"  {side.name}: ERROR {exc}")
        out["error"] = f"{type(exc).__name__}: {exc}"[:4000]
    return out


# -------------------------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; ``--only`` is split into sides and rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per point")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each point")
    parser.add_argument("--connections", type=_int_list, default=[1, 8, 32, 64])
    parser.add_argument("--batch-connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--only",
        type=lambda s: [v.strip() for v in s.split(",") if v.strip()],
        default=[],
        help=f"sides ({','.join(SIDES)}) and/or rows ({','.join(ROWS)})",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--keep-work", action="store_true", help="keep the temp workspace")
    parser.add_argument("--render-only", action="store_true", help="rewrite docs from --results")
    args = parser.parse_args(argv)
    unknown = [v for v in args.only if v not in SIDES and v not in ROWS]
    if unknown:
        parser.error(f"--only: unknown {unknown}; use sides {list(SIDES)} or rows {list(ROWS)}")
    args.rows = [r for r in ROWS if r in args.only] or [r for r, row in ROWS.items() if row.default]
    # no side named: the sides the rows measure (`--only hotswap` starts Conveyor alone)
    needed = [s for s in SIDES if any(s in ROWS[r].sides for r in args.rows)]
    args.sides = [s for s in SIDES if s in args.only] or needed
    return args


def _context(args: argparse.Namespace, workdir: Path) -> tuple[Context, dict[str, float]]:
    log("training the model; timing model.predict in process")
    train(workdir)
    rows = {1: request_rows(1), BATCH_ROWS: request_rows(BATCH_ROWS)}
    labels = {size: expected(workdir, r) for size, r in rows.items()}
    predict = predict_p50_ms(workdir)
    log(f"  predict p50: {predict}")
    return Context(args, workdir, model_columns(), rows, labels), predict


def measure_all(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Run every selected side; return the report."""
    versions = {side: ENSURE[side]() for side in args.sides}
    wrk_path = wrk.ensure_wrk()
    ctx, predict = _context(args, workdir)
    sides: dict[str, Any] = {}
    for name in args.sides:
        log(f"{name}:")
        sides[name] = run_side(ctx, SIDES[name], args.rows)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "command": " ".join([".venv/bin/python", "benchmarks/serving.py", *sys.argv[1:]]),
        "machine": machine(wrk_path),
        "git": git_state(),
        "versions": versions,
        "settings": {
            "workers": args.workers,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "batch_connections": args.batch_connections,
            "batch_rows": BATCH_ROWS,
            "wrk_timeout_s": wrk.REQUEST_TIMEOUT_S,
            "rows": args.rows,
        },
        "predict_p50_ms": predict,
        "sides": sides,
    }


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(143)  # unwinds through every `with ServerProcess` block


def main(argv: list[str] | None = None) -> int:
    """Measure, write the results and the docs section; 0 when every target is met."""
    args = parse_args(argv)
    if args.render_only:
        report = json.loads(args.results.read_text())
        text = render(report, judge(report))
        print(text)
        if not args.no_docs:
            replace_section("serving", text)
        return 0
    signal.signal(signal.SIGTERM, _on_sigterm)
    atexit.register(stop_all)
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="serving-", dir=WORK_ROOT))
    try:
        report = measure_all(args, workdir)
    finally:
        stop_all()
        if args.keep_work:
            log(f"workspace kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    checks = judge(report)
    report["targets"] = [c.as_dict() for c in checks]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(report, indent=2) + "\n")
    text = render(report, checks)
    print(text)
    if not args.no_docs:
        replace_section("serving", text)
    counted = [c for c in checks if c.counted]
    return 0 if counted and all(c.passed for c in counted) else 2


if __name__ == "__main__":
    raise SystemExit(main())
