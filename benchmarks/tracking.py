"""Tracking benchmark: Conveyor against MLflow 3, same machine, same invocation.

Usage (from the repository root)::

    .venv/bin/python benchmarks/tracking.py            # full run, 20-40 minutes
    .venv/bin/python benchmarks/tracking.py --quick    # everything small, < 3 minutes
    .venv/bin/python benchmarks/tracking.py --runs 20000 --only e

MLflow (``mlflow>=3,<4``, the full package: ``mlflow server`` is needed) is installed into its
own virtualenv, ``benchmarks/.venvs/mlflow``, created on the first run and reused afterwards.
Every workload runs in a fresh subprocess (Conveyor's with this interpreter, MLflow's with the
peer's) in a fresh temp workspace under ``benchmarks/.work``, times itself with
``time.perf_counter`` and prints its result as JSON; this script compares the two, prints a
summary, and writes ``docs/benchmarks.md`` and ``benchmarks/results/tracking.json``.

Workloads (ratios are Conveyor ÷ MLflow; higher is better):
  a. single ``log_metric`` calls, in-process, every point durable at ``end_run``;
  b. batched logging of 1M points, plus the physical limit (bare sqlite3 ``executemany``);
  c. create run + 10 params + 10 metrics + end, repeated;
  d. a, b and c through a server, both driven by the unmodified ``mlflow`` client;
  e. ``search_runs`` (metric filter + order by, first page of 100) over 100k runs, on SQLite
     and PostgreSQL;
  f. peak RSS of the Conveyor server while it ingests 1M points through its native API.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import psutil
from _common import REFERENCE_THRESHOLD, SEARCH_SHAPES, Result, parse_result

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PEER_VENV = BENCH_DIR / ".venvs" / "mlflow"
WORK_ROOT = BENCH_DIR / ".work"
DEFAULT_RESULTS = BENCH_DIR / "results" / "tracking.json"
DEFAULT_DOCS = REPO / "docs" / "benchmarks.md"
MLFLOW_REQUIREMENT = "mlflow>=3,<4"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "conveyor_bench"
PG_STATEMENT_TIMEOUT_MS = 30_000
PG_AS_LOADED_BUDGET_S = 120.0


def pg_conveyor_url(database: str) -> str:
    """Return Conveyor's URL for ``database``, with the benchmark's statement timeout."""
    return (
        f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
        f"?options=-c%20statement_timeout%3D{PG_STATEMENT_TIMEOUT_MS}"
    )


SERVER_START_TIMEOUT_S = 180.0
RSS_POLL_INTERVAL_S = 0.02
SECTIONS = "abcdef"
SERVER_REPEATS = 3
TIMES = "\N{MULTIPLICATION SIGN}"

Side = Literal["conveyor", "mlflow"]

# Stores timed in (e).
SQLITE = "Conveyor, SQLite"
PG = "Conveyor, PostgreSQL"
PG_AS_LOADED = "Conveyor, PostgreSQL (as loaded)"
PG_ANALYZED = "Conveyor, PostgreSQL (after ANALYZE)"
MLFLOW = "MLflow, SQLite"

# Targets (from the benchmark brief).
TARGET_SINGLE_RATIO = 100.0
TARGET_BATCH_RATIO = 20.0
TARGET_BATCH_RATE = 400_000.0
TARGET_RUNS_RATIO = 10.0
TARGET_SERVER_RATIO = 3.0
TARGET_SEARCH_P50_MS = 100.0
TARGET_SERVER_RSS_MB = 300.0


@dataclass(frozen=True)
class Sizes:
    """How much each workload does."""

    single_conveyor: int = 200_000
    single_mlflow: int = 2_000
    batch_points: int = 1_000_000
    batch_conveyor_batch: int = 100_000
    batch_mlflow_points: int = 1_000_000
    mlflow_batch: int = 1_000
    runs_conveyor: int = 300
    runs_mlflow: int = 100
    server_single: int = 2_000
    server_batch_points: int = 100_000
    server_runs: int = 100
    search_runs: int = 100_000
    search_queries_per_shape: int = 25
    search_budget_s: float = 300.0
    ingest_points: int = 1_000_000
    ingest_batch: int = 10_000


QUICK = Sizes(
    single_conveyor=20_000,
    single_mlflow=300,
    batch_points=100_000,
    batch_mlflow_points=10_000,
    runs_conveyor=50,
    runs_mlflow=20,
    server_single=200,
    server_batch_points=10_000,
    server_runs=20,
    search_runs=2_000,
    search_queries_per_shape=10,
    search_budget_s=30.0,
    ingest_points=200_000,
)


# --------------------------------------------------------------------------------------------
# Reporting model
# --------------------------------------------------------------------------------------------


@dataclass
class Check:
    """One target: the figure measured against it, and whether it holds."""

    name: str
    figure: str
    target: str
    status: str  # PASS, FAIL or ERROR


@dataclass
class Table:
    """A markdown table."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Section:
    """The results of one workload."""

    key: str
    title: str
    tables: list[Table] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    git: dict[str, Any] = field(default_factory=dict)  # the code under test when it started

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Section:
        """Rebuild a section saved in the raw results."""
        return cls(
            **{
                **data,
                "tables": [Table(**t) for t in data["tables"]],
                "checks": [Check(**c) for c in data["checks"]],
            }
        )


def fmt_int(n: float) -> str:
    """Format a count with thousands separators."""
    return f"{round(n):,}"


def fmt_ratio(x: float) -> str:
    """Format a ratio: 612x, 24.5x, 2.45x (with a multiplication sign)."""
    digits = 0 if x >= 100 else 1 if x >= 10 else 2
    return f"{x:,.{digits}f}{TIMES}"


def fmt_ms(x: float) -> str:
    """Format milliseconds."""
    return f"{x:,.1f} ms" if x < 1000 else f"{x / 1000:,.2f} s"


def status(passed: bool) -> str:
    """Render a pass/fail flag."""
    return "PASS" if passed else "FAIL"


def error_of(*results: Result) -> str | None:
    """Return the first error among ``results``, shortened for a table cell."""
    for r in results:
        if "error" in r:
            return str(r["error"]).splitlines()[0][:200]
    return None


def rate_cell(r: Result, unit: str = "pts/s", count_key: str = "points") -> str:
    """Render a throughput with what was measured."""
    if "error" in r:
        return f"ERROR: {error_of(r)}"
    per_s = r[f"{count_key}_per_s"]
    return f"{fmt_int(per_s)} {unit} ({fmt_int(r[count_key])} in {r['seconds']:.2f} s)"


def incomplete(r: Result, expected: int, what: str = "stored") -> str | None:
    """Return an error when a workload did not store everything it logged."""
    if "error" in r:
        return error_of(r)
    got = r.get(what)
    if got is not None and got != expected:
        return f"only {fmt_int(got)} of {fmt_int(expected)} {what}"
    return None


# --------------------------------------------------------------------------------------------
# Processes: workloads, servers, memory polling
# --------------------------------------------------------------------------------------------


def log(message: str) -> None:
    """Print a progress line (stderr, so that stdout holds the summary only)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def clean_env(**extra: str) -> dict[str, str]:
    """Return this environment without CONVEYOR_*/MLFLOW_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVEYOR_", "MLFLOW_"))}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Runner:
    """Runs workload scripts in fresh subprocesses and fresh temp workspaces."""

    def __init__(self, *, peer_python: Path, keep: bool, timeout_s: float) -> None:
        self.peer_python = peer_python
        self.keep = keep
        self.timeout_s = timeout_s
        WORK_ROOT.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="tracking-", dir=WORK_ROOT))

    @contextlib.contextmanager
    def workdir(self, label: str) -> Iterator[Path]:
        """Yield a fresh, empty directory (removed afterwards unless ``--keep-work``)."""
        path = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.root))
        try:
            yield path
        finally:
            if not self.keep:
                shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        """Remove the run's work directory unless ``--keep-work``."""
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def env_for(self, side: Side, cwd: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Return the environment of a workload process."""
        env = clean_env(**(extra or {}))
        if side == "conveyor":
            env.setdefault("CONVEYOR_HOME", str(cwd / ".conveyor"))
        return env

    def run(
        self,
        side: Side,
        workload: str,
        params: dict[str, Any],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
    ) -> Result:
        """Run one workload; return its JSON result, or ``{"error": ...}``."""
        python = sys.executable if side == "conveyor" else str(self.peer_python)
        script = BENCH_DIR / ("_conveyor_workloads.py" if side == "conveyor" else "_peer_mlflow.py")
        argv = [python, str(script), workload, json.dumps(params)]
        shown = {k: v for k, v in params.items() if k != "tracking_uri"}
        log(f"  {side} {workload} {shown}")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                argv,
                cwd=cwd,
                env=self.env_for(side, cwd, env),
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            log(f"  -> timed out after {self.timeout_s:.0f} s")
            return {"error": f"timed out after {self.timeout_s:.0f} s"}
        result = parse_result(proc.stdout)
        if proc.returncode != 0 or result is None or "error" in result:
            message = (result or {}).get("error") or f"exit status {proc.returncode}"
            log(f"  -> ERROR {message}\n{proc.stderr[-2000:]}")
            return {"error": message, "stderr_tail": proc.stderr[-4000:]}
        result["process_wall_s"] = time.perf_counter() - t0
        log(f"  -> {_brief(result)}")
        return result


def _brief(result: Result) -> str:
    for key in ("points_per_s", "runs_per_s"):
        if key in result:
            return f"{fmt_int(result[key])} {key.removesuffix('_per_s')}/s"
    if "shapes" in result:
        return ", ".join(f"{k}: p50 {fmt_ms(v['p50_ms'])}" for k, v in result["shapes"].items())
    return f"done in {result.get('seconds', result.get('process_wall_s', 0)):.1f} s"


class Server:
    """A server subprocess in its own process group, up once its health URL answers."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / f"{name}-server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        log(f"  starting {self.name} server on {self.url}")
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._stop()
                msg = f"{self.name} server exited at start: {self.log_tail()}"
                raise RuntimeError(msg)
            if _healthy(f"{self.url}/health"):
                return self
            time.sleep(0.2)
        self._stop()
        msg = f"{self.name} server not healthy after {SERVER_START_TIMEOUT_S:.0f} s"
        raise RuntimeError(msg)

    def __exit__(self, *_exc: object) -> None:
        self._stop()

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self) -> str:
        """Return the end of the server's log."""
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # The server runs in its own session: its process group holds only what it started
        # (MLflow's server starts uvicorn and job runners as children).
        try:
            family = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            family = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        _gone, alive = psutil.wait_procs(family, timeout=10)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except OSError:
        return False


class RssPoller(threading.Thread):
    """Polls the resident set size of a process and its children; keeps the peak."""

    def __init__(self, pid: int, interval_s: float = RSS_POLL_INTERVAL_S) -> None:
        super().__init__(name="rss-poller", daemon=True)
        self.process = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def sample(self) -> int:
        """Return the current RSS of the process tree, in bytes."""
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def run(self) -> None:
        """Poll until stopped."""
        while not self._stop_event.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.sample())
                self.samples += 1
            self._stop_event.wait(self.interval_s)

    def stop(self) -> None:
        """Stop polling."""
        self._stop_event.set()
        self.join()


# --------------------------------------------------------------------------------------------
# The MLflow peer environment, PostgreSQL, machine facts
# --------------------------------------------------------------------------------------------


def peer_python() -> Path:
    """Return the peer virtualenv's interpreter."""
    return PEER_VENV / "bin" / "python"


def peer_mlflow_version() -> str | None:
    """Return the peer's MLflow version, or None when it is not installed."""
    if not peer_python().exists():
        return None
    proc = subprocess.run(
        [str(peer_python()), "-c", "import importlib.metadata as m; print(m.version('mlflow'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_peer_venv() -> str:
    """Create ``benchmarks/.venvs/mlflow`` with MLflow 3 unless it is already there."""
    version = peer_mlflow_version()
    if version and version.split(".")[0] == "3":
        log(f"MLflow {version} found in {PEER_VENV}")
        return version
    if not peer_python().exists():
        log(f"creating {PEER_VENV}")
        python3 = shutil.which("python3") or sys.executable
        subprocess.run([python3, "-m", "venv", str(PEER_VENV)], check=True)
    log(f"installing {MLFLOW_REQUIREMENT} into {PEER_VENV} (a few minutes)")
    subprocess.run(
        [str(peer_python()), "-m", "pip", "install", "--quiet", MLFLOW_REQUIREMENT], check=True
    )
    version = peer_mlflow_version()
    if not version:
        msg = f"MLflow did not install into {PEER_VENV}"
        raise RuntimeError(msg)
    return version


def _pg_url(database: str = "postgres") -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"


def pg_execute(*statements: str, database: str = "postgres") -> None:
    """Run statements on the PostgreSQL server as the admin user (autocommit)."""
    import psycopg

    with psycopg.connect(_pg_url(database), autocommit=True, connect_timeout=5) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type,unused-ignore]


def pg_setting(name: str) -> str | None:
    """Return a PostgreSQL setting (``server_version``, ...), or None when unreachable."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
            row = conn.execute(f"SHOW {name}").fetchone()  # type: ignore[arg-type,unused-ignore]
    except Exception:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        return None
    return str(row[0]) if row else None


def machine_facts(mlflow_version: str | None) -> dict[str, Any]:
    """Return what the results were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    peer_sqlalchemy = subprocess.run(
        [str(peer_python()), "-c", "import sqlalchemy; print(sqlalchemy.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "conveyor": _version("conveyor-mlops"),
        "conveyor_sqlalchemy": _version("SQLAlchemy"),
        "mlflow": mlflow_version,
        "mlflow_sqlalchemy": peer_sqlalchemy or None,
        "postgresql": pg_setting("server_version"),
        "postgresql_autovacuum": pg_setting("autovacuum"),
    }


def git_state() -> dict[str, Any]:
    """Return the commit under test and whether ``src/`` had uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD") or None,
        "src_tree": git("rev-parse", "--short", "HEAD:src") or None,
        "src_modified": bool(git("status", "--porcelain", "--", "src")),
    }


def _same_src(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a.get("src_tree"), a["src_modified"]) == (b.get("src_tree"), b["src_modified"])


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


# --------------------------------------------------------------------------------------------
# The workloads
# --------------------------------------------------------------------------------------------


class Benchmark:
    """Runs the sections and builds their tables."""

    def __init__(self, runner: Runner, sizes: Sizes, *, postgres: bool) -> None:
        self.runner = runner
        self.sizes = sizes
        self.postgres = postgres
        # One database per run: two benchmark runs at once must not drop each other's.
        self.pg_database = f"{PG_DATABASE}_{os.getpid()}"

    def conveyor(self, label: str, workload: str, params: dict[str, Any], **env: str) -> Result:
        """Run a Conveyor workload in its own fresh workspace."""
        with self.runner.workdir(label) as cwd:
            return self.runner.run("conveyor", workload, params, cwd=cwd, env=env)

    def mlflow(self, label: str, workload: str, params: dict[str, Any]) -> Result:
        """Run an MLflow workload in-process on a fresh SQLite database."""
        with self.runner.workdir(label) as cwd:
            uri = f"sqlite:///{cwd / 'mlflow.db'}"
            return self.runner.run("mlflow", workload, {**params, "tracking_uri": uri}, cwd=cwd)

    # a ---------------------------------------------------------------------------------------
    def single(self) -> Section:
        """(a) single ``log_metric`` calls, in-process, durable at end_run."""
        s = self.sizes
        c = self.conveyor("a-conveyor", "log_metric_single", {"points": s.single_conveyor})
        m = self.mlflow("a-mlflow", "log_metric_single", {"points": s.single_mlflow})
        section = Section("a", "Single `log_metric` calls, in-process (durable at `end_run`)")
        section.raw = {"conveyor": c, "mlflow": m}
        table = Table(["Workload", "Conveyor", "MLflow", "Conveyor ÷ MLflow", "Target", "Result"])
        err = incomplete(c, s.single_conveyor) or incomplete(m, s.single_mlflow)
        name = "a. single log_metric, in-process"
        target = f"≥ {TARGET_SINGLE_RATIO:.0f}{TIMES}"
        if err:
            table.rows.append([name, rate_cell(c), rate_cell(m), "n/a", target, "ERROR"])
            section.checks.append(Check(name, f"ERROR: {err}", target, "ERROR"))
        else:
            ratio = c["points_per_s"] / m["points_per_s"]
            res = status(ratio >= TARGET_SINGLE_RATIO)
            table.rows.append([name, rate_cell(c), rate_cell(m), fmt_ratio(ratio), target, res])
            section.checks.append(Check(name, fmt_ratio(ratio), target, res))
        section.tables.append(table)
        section.notes.append(
            "Clock: first `log_metric` to `end_run` returning; both then read the history back "
            "and check every point is stored. One key (`loss`), step = i. MLflow logs "
            "synchronously (its default); Conveyor buffers and flushes in the background, and "
            "`end_run` returns only once every point is committed."
        )
        return section

    # b ---------------------------------------------------------------------------------------
    def batched(self) -> Section:
        """(b) batched logging of 1M points, and the bare-SQLite limit."""
        s = self.sizes
        n = s.batch_points
        m = self.mlflow(
            "b-mlflow",
            "log_batch",
            {"points": s.batch_mlflow_points, "batch": s.mlflow_batch},
        )
        client = self.conveyor(
            "b-conveyor-client", "log_batch_client", {"points": n, "batch": s.batch_conveyor_batch}
        )
        fluent = self.conveyor("b-conveyor-fluent", "log_batch_fluent", {"points": n})
        bare_ix = self.conveyor("b-bare-index", "sqlite_limit", {"points": n, "index": True})
        bare_no = self.conveyor("b-bare-noindex", "sqlite_limit", {"points": n, "index": False})
        section = Section("b", f"Batched logging of {fmt_int(n)} points, in-process")
        section.raw = {
            "mlflow_log_batch": m,
            "conveyor_client_log_batch": client,
            "conveyor_fluent_log_metric": fluent,
            "bare_sqlite_indexed": bare_ix,
            "bare_sqlite_no_index": bare_no,
        }
        table = Table(["Workload", "Conveyor", "MLflow", "Conveyor ÷ MLflow", "Target", "Result"])
        target = f"≥ {TARGET_BATCH_RATIO:.0f}{TIMES} and ≥ {fmt_int(TARGET_BATCH_RATE)} pts/s"
        for name, c in (
            (f"b. `Client.log_batch`, {fmt_int(s.batch_conveyor_batch)}/batch", client),
            ("b. fluent `log_metric` loop", fluent),
        ):
            err = incomplete(c, n) or incomplete(m, s.batch_mlflow_points)
            if err:
                table.rows.append([name, rate_cell(c), rate_cell(m), "n/a", target, "ERROR"])
                section.checks.append(Check(name, f"ERROR: {err}", target, "ERROR"))
                continue
            ratio = c["points_per_s"] / m["points_per_s"]
            ok = ratio >= TARGET_BATCH_RATIO and c["points_per_s"] >= TARGET_BATCH_RATE
            figure = f"{fmt_ratio(ratio)}, {fmt_int(c['points_per_s'])} pts/s"
            table.rows.append(
                [name, rate_cell(c), rate_cell(m), fmt_ratio(ratio), target, status(ok)]
            )
            section.checks.append(Check(name, figure, target, status(ok)))
        section.tables.append(table)
        section.tables.append(self._bare_table(client, fluent, bare_ix, bare_no))
        section.notes.append(
            f"MLflow: `MlflowClient.log_batch` with {fmt_int(s.mlflow_batch)} metrics per call "
            "(MLflow's limit). Conveyor: `Client.log_batch` (each call one durable transaction) "
            "and the fluent `log_metric` loop (clock stops when `end_run` returns). Points are "
            f"spread over 10 keys, step = i // 10; the clock covers the logging calls only "
            "(the points are built before it starts)."
        )
        if s.batch_mlflow_points < n:
            section.notes.append(
                f"MLflow was measured on {fmt_int(s.batch_mlflow_points)} points, not "
                f"{fmt_int(n)}; its throughput is extrapolated as constant."
            )
        section.notes.append(
            "Physical limit: Python's `sqlite3`, one `executemany` of prebuilt 5-column rows "
            "(text run id, text key, int step, int timestamp, real value) in one transaction, "
            "same PRAGMAs as Conveyor (WAL, synchronous=NORMAL, 64 MiB cache), into a table "
            "shaped like Conveyor's `metrics`, with and without its `(run_uuid, key, step)` index."
        )
        return section

    def _bare_table(self, client: Result, fluent: Result, ix: Result, no: Result) -> Table:
        table = Table(
            ["Physical limit", "Throughput", "Conveyor `Client.log_batch` ÷ limit",
             "Conveyor fluent ÷ limit"]
        )  # fmt: skip
        for name, bare in (
            ("bare sqlite3 `executemany`, indexed `(run_uuid, key, step)`", ix),
            ("bare sqlite3 `executemany`, no index", no),
        ):
            cells = [name, rate_cell(bare)]
            for c in (client, fluent):
                if error_of(c, bare):
                    cells.append("n/a")
                else:
                    cells.append(f"{c['points_per_s'] / bare['points_per_s']:.0%}")
            table.rows.append(cells)
        return table

    # c ---------------------------------------------------------------------------------------
    def runs(self) -> Section:
        """(c) create run + 10 params + 10 metrics + end, repeated."""
        s = self.sizes
        default = self.conveyor("c-conveyor", "runs", {"runs": s.runs_conveyor})
        bare = self.conveyor(
            "c-conveyor-nosys",
            "runs",
            {"runs": s.runs_conveyor},
            CONVEYOR_CAPTURE_SYSTEM="false",
        )
        m = self.mlflow("c-mlflow", "runs", {"runs": s.runs_mlflow})
        section = Section("c", "Create run + 10 params + 10 metrics + end, repeated (fluent API)")
        section.raw = {
            "conveyor_default": default,
            "conveyor_capture_system_false": bare,
            "mlflow": m,
        }
        table = Table(["Workload", "Conveyor", "MLflow", "Conveyor ÷ MLflow", "Target", "Result"])
        target = f"≥ {TARGET_RUNS_RATIO:.0f}{TIMES}"
        for name, c in (
            ("c. runs, Conveyor default settings", default),
            ("c. runs, `CONVEYOR_CAPTURE_SYSTEM=false`", bare),
        ):
            row = self._ratio_row(
                name,
                c,
                m,
                expected=(s.runs_conveyor, s.runs_mlflow),
                target=TARGET_RUNS_RATIO,
                unit="runs",
                check_key="complete",
            )
            table.rows.append(row)
            section.checks.append(Check(name, row[3], target, row[5]))
        section.tables.append(table)
        section.notes.append(
            "Each run: `start_run(run_name=...)` as a context manager, `log_params` (10), "
            "`log_metrics` (10), end on exit. The clock covers every run, the first included; "
            "the experiment is set (and the store opened) before it starts. Afterwards each side "
            "searches the experiment and checks every run holds its 10 params and 10 metrics. "
            "Default Conveyor settings capture system metrics and the environment (git, "
            "packages) per run; MLflow's default does not sample system metrics."
        )
        return section

    @staticmethod
    def _ratio_row(
        name: str,
        c: Result,
        m: Result,
        *,
        expected: tuple[int, int],
        target: float,
        unit: str,
        check_key: str = "stored",
    ) -> list[str]:
        """Return a table row comparing Conveyor's ``c`` with MLflow's ``m`` (unit/s)."""
        label = "pts/s" if unit == "points" else f"{unit}/s"
        cell_c = rate_cell(c, label, unit)
        cell_m = rate_cell(m, label, unit)
        target_s = f"≥ {target:.0f}{TIMES}"
        err = incomplete(c, expected[0], check_key) or incomplete(m, expected[1], check_key)
        if err:
            return [name, cell_c, cell_m, f"ERROR: {err}", target_s, "ERROR"]
        ratio = c[f"{unit}_per_s"] / m[f"{unit}_per_s"]
        return [name, cell_c, cell_m, fmt_ratio(ratio), target_s, status(ratio >= target)]

    # d ---------------------------------------------------------------------------------------
    def servers(self) -> Section:
        """(d) a, b and c through a server, driven by the unmodified mlflow client."""
        s = self.sizes
        batch = {"points": s.server_batch_points, "batch": s.mlflow_batch}
        workloads: list[tuple[str, str, dict[str, Any], str, int]] = [
            ("single `log_metric`", "log_metric_single", {"points": s.server_single}, "points",
             s.server_single),
            (f"`log_batch`, {fmt_int(s.mlflow_batch)}/batch", "log_batch", batch, "points",
             s.server_batch_points),
            ("runs (create + 10 params + 10 metrics + end)", "runs", {"runs": s.server_runs},
             "runs", s.server_runs),
        ]  # fmt: skip
        section = Section("d", "Through a server, both driven by the unmodified `mlflow` client")
        table = Table(
            ["Workload", "Conveyor server", "MLflow server", "Conveyor ÷ MLflow", "Target",
             "Result", "MLflow server, job runner on (its default)", "Conveyor ÷ that"]
        )  # fmt: skip
        for name, workload, params, unit, expected in workloads:
            # Client and server share two cores with whatever else runs: each side's best of
            # SERVER_REPEATS interleaved measurements, so a noisy moment hits both alike.
            tries: dict[Literal["conveyor", "mlflow"], list[Result]] = {
                "conveyor": [],
                "mlflow": [],
            }
            for _ in range(SERVER_REPEATS):
                for side, results in tries.items():
                    results.append(self._through_server(side, workload, params))
            rate = f"{unit}_per_s"
            c, m = (max(r, key=lambda x: float(x.get(rate, 0.0))) for r in tries.values())
            m_default = self._through_server("mlflow-defaults", workload, params)
            section.raw[workload] = {
                "conveyor_server": c,
                "mlflow_server": m,
                "mlflow_server_job_runner_on": m_default,
            }
            check_key = "complete" if unit == "runs" else "stored"
            rows = [
                self._ratio_row(
                    f"d. {name}",
                    c,
                    other,
                    expected=(expected, expected),
                    target=TARGET_SERVER_RATIO,
                    unit=unit,
                    check_key=check_key,
                )
                for other in (m, m_default)
            ]
            table.rows.append([*rows[0], rows[1][2], rows[1][3]])
            section.checks.append(Check(rows[0][0], rows[0][3], rows[0][4], rows[0][5]))
        section.tables.append(table)
        section.notes.extend(
            [
                f"Each side's figure is its best of {SERVER_REPEATS} measurements, taken "
                "alternately (Conveyor, MLflow, Conveyor, ...): two cores run the client and "
                "the server, and one noisy moment otherwise moved a single figure by 40 %. "
                "Each measurement starts a fresh server on a fresh workspace: "
                "`conveyor server --host 127.0.0.1 --port P` (CONVEYOR_HOME=temp, SQLite) and "
                "`mlflow server --backend-store-uri sqlite:///temp/mlflow.db "
                "--default-artifact-root mlflow-artifacts:/ --serve-artifacts "
                "--artifacts-destination temp/mlartifacts --host 127.0.0.1 --port P --workers 1` "
                "with `MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`. The same client script (the "
                "peer virtualenv's `mlflow`, `MLFLOW_TRACKING_URI=http://127.0.0.1:P`) drives "
                "both; each side's clock is the client's, as in (a)-(c).",
                "The ratio that counts is against MLflow's server with its job runner switched "
                "off (`MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`): the job runner serves GenAI "
                "background jobs, not tracking, and when on (MLflow 3's default) MLflow's server "
                "starts 8 more processes that compete for this machine's cores, which makes "
                "MLflow several times slower here. The last two columns show MLflow's default "
                "for information.",
                "Single calls through a server are bound by the `mlflow` client itself (request "
                "building, `requests`, a request-header plugin lookup per call): about 2 ms per "
                "call on this machine whichever server answers, which caps the achievable ratio "
                "for single `log_metric` at roughly (client + MLflow server) ÷ client.",
            ]
        )
        return section

    def _through_server(
        self,
        kind: Literal["conveyor", "mlflow", "mlflow-defaults"],
        workload: str,
        params: dict[str, Any],
    ) -> Result:
        with self.runner.workdir(f"d-{kind}-{workload}") as cwd:
            if kind == "conveyor":
                server = self._conveyor_server(cwd)
            else:
                # MLflow's job runner serves GenAI background jobs, not tracking; on (MLflow 3's
                # default) it starts 8 more processes that compete for the CPU.
                jobs = "true" if kind == "mlflow-defaults" else "false"
                server = Server(
                    "mlflow",
                    [
                        str(PEER_VENV / "bin" / "mlflow"), "server",
                        "--backend-store-uri", f"sqlite:///{cwd / 'mlflow.db'}",
                        "--default-artifact-root", "mlflow-artifacts:/",
                        "--serve-artifacts", "--artifacts-destination", str(cwd / "mlartifacts"),
                        "--host", "127.0.0.1", "--port", "{port}", "--workers", "1",
                    ],
                    env=clean_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION=jobs),
                    cwd=cwd,
                )  # fmt: skip
            try:
                with server:
                    client_cwd = cwd / "client"
                    client_cwd.mkdir()
                    result = self.runner.run(
                        "mlflow", workload, {**params, "tracking_uri": server.url}, cwd=client_cwd
                    )
                    if "error" in result:
                        result["server_log_tail"] = server.log_tail()
                    return result
            except RuntimeError as exc:
                log(f"  -> ERROR {exc}")
                return {"error": str(exc)}

    def _conveyor_server(self, cwd: Path) -> Server:
        conveyor_bin = Path(sys.executable).parent / "conveyor"
        return Server(
            "conveyor",
            [str(conveyor_bin), "server", "--host", "127.0.0.1", "--port", "{port}"],
            env=clean_env(CONVEYOR_HOME=str(cwd / ".conveyor")),
            cwd=cwd,
        )

    # e ---------------------------------------------------------------------------------------
    def search(self) -> Section:
        """(e) search_runs over an experiment of N runs x 20 metrics x 10 params."""
        s = self.sizes
        populate = {"runs": s.search_runs}
        timed = {"queries": s.search_queries_per_shape, "budget_s": s.search_budget_s}
        filled: dict[str, Result] = {}
        timings: dict[str, Result] = {}
        with self.runner.workdir("e-conveyor-sqlite") as cwd:
            filled[SQLITE] = self.runner.run("conveyor", "search_populate", populate, cwd=cwd)
            if "error" not in filled[SQLITE]:
                timings[SQLITE] = self.runner.run("conveyor", "search_timed", timed, cwd=cwd)
        if self.postgres:
            self._search_postgres(populate, timed, filled, timings)
        with self.runner.workdir("e-mlflow-sqlite") as cwd:
            uri = {"tracking_uri": f"sqlite:///{cwd / 'mlflow.db'}"}
            filled[MLFLOW] = self.runner.run(
                "mlflow", "search_populate", {**populate, **uri}, cwd=cwd
            )
            if "error" not in filled[MLFLOW]:
                timings[MLFLOW] = self.runner.run(
                    "mlflow", "search_timed", {**timed, **uri}, cwd=cwd
                )
        return self._search_section(filled, timings)

    def _search_postgres(
        self,
        populate: dict[str, Any],
        timed: dict[str, Any],
        filled: dict[str, Result],
        timings: dict[str, Result],
    ) -> None:
        drop = f"DROP DATABASE IF EXISTS {self.pg_database} WITH (FORCE)"
        try:
            pg_execute(drop, f"CREATE DATABASE {self.pg_database}")
        except Exception as exc:  # noqa: BLE001 - reported in the section
            filled[PG] = {"error": f"PostgreSQL unavailable: {exc}"}
            log(f"  -> ERROR {filled[PG]['error']}")
            return
        env = {"CONVEYOR_DB_URL": pg_conveyor_url(self.pg_database)}
        try:
            with self.runner.workdir("e-conveyor-postgres") as cwd:
                filled[PG] = self.runner.run(
                    "conveyor", "search_populate", populate, cwd=cwd, env=env
                )
                if "error" in filled[PG]:
                    return
                # Without statistics every query may run into the statement timeout: a shorter
                # budget shows that without spending 10 minutes on it.
                as_loaded = {**timed, "budget_s": min(timed["budget_s"], PG_AS_LOADED_BUDGET_S)}
                timings[PG_AS_LOADED] = self.runner.run(
                    "conveyor", "search_timed", as_loaded, cwd=cwd, env=env
                )
                log("  ANALYZE (PostgreSQL)")
                pg_execute("ANALYZE", database=self.pg_database)
                timings[PG_ANALYZED] = self.runner.run(
                    "conveyor", "search_timed", timed, cwd=cwd, env=env
                )
        finally:
            with contextlib.suppress(Exception):
                pg_execute(drop)

    def _search_section(self, filled: dict[str, Result], timings: dict[str, Result]) -> Section:
        n = self.sizes.search_runs
        section = Section(
            "e",
            f"`search_runs` over {fmt_int(n)} runs {TIMES} 20 metrics {TIMES} 10 params "
            "(first page of 100)",
        )
        section.raw = {"populate": filled, "queries": timings}
        mlflow_q = timings.get(MLFLOW, filled.get(MLFLOW, {"error": "not run"}))
        reference = mlflow_q.get("reference_names")
        table = Table(
            ["Store", "Query", "p50", "p95", "MLflow (SQLite) p50", "Conveyor ÷ MLflow (speed)",
             "Same first page as MLflow", "Target", "Result"]
        )  # fmt: skip
        target = f"p50 ≤ {TARGET_SEARCH_P50_MS:.0f} ms"
        labels = [SQLITE, *([PG_AS_LOADED, PG_ANALYZED] if self.postgres else [])]
        for label in labels:
            q = timings.get(label) or filled.get(label) or filled.get(PG) or {"error": "not run"}
            for shape in SEARCH_SHAPES:
                row, check = self._search_row(label, shape, q, mlflow_q, reference, target)
                table.rows.append(row)
                section.checks.append(check)
        if "error" not in mlflow_q:
            for shape, stats in mlflow_q["shapes"].items():
                table.rows.append(
                    [MLFLOW, shape, fmt_ms(stats["p50_ms"]), fmt_ms(stats["p95_ms"]), "", "",
                     "(reference)", "", ""]
                )  # fmt: skip
        section.tables += [table, self._populate_table(filled)]
        section.notes.extend(self._search_notes(timings))
        return section

    @staticmethod
    def _search_row(
        label: str,
        shape: str,
        q: Result,
        mlflow_q: Result,
        reference: list[str] | None,
        target: str,
    ) -> tuple[list[str], Check]:
        name = f"e. {label}, {shape}"
        if "error" in q or shape not in q.get("shapes", {}):
            err = error_of(q) or "no query completed"
            row = [label, shape, f"ERROR: {err}", "", "", "", "", target, "ERROR"]
            return row, Check(name, f"ERROR: {err}", target, "ERROR")
        stats = q["shapes"][shape]
        p50 = fmt_ms(stats["p50_ms"])
        if q["failed_queries"]:
            p50 += f" ({q['failed_queries']} of {q['timed_queries']} queries failed/timed out)"
        ok = stats["p50_ms"] <= TARGET_SEARCH_P50_MS and not q["failed_queries"]
        m_cell, ratio = "n/a", "n/a"
        if "error" not in mlflow_q and shape in mlflow_q.get("shapes", {}):
            m_p50 = mlflow_q["shapes"][shape]["p50_ms"]
            m_cell, ratio = fmt_ms(m_p50), fmt_ratio(m_p50 / stats["p50_ms"])
        names = q.get("reference_names")
        same = "n/a" if not reference or not names else ("yes" if names == reference else "NO")
        row = [label, shape, p50, fmt_ms(stats["p95_ms"]), m_cell, ratio, same, target, status(ok)]
        return row, Check(name, f"p50 {fmt_ms(stats['p50_ms'])}", target, status(ok))

    @staticmethod
    def _populate_table(filled: dict[str, Result]) -> Table:
        table = Table(["Store", "How it was filled", "Runs", "Time", "Runs/s"])
        for store, p in filled.items():
            if "error" in p:
                table.rows.append([store, f"ERROR: {error_of(p)}", "", "", ""])
                continue
            if store == MLFLOW:
                how = (
                    f"{p['api_runs']} run via `MlflowClient` (create_run + log_batch), "
                    f"{fmt_int(p['sql_runs'])} by SQL into MLflow's own tables"
                )
                seconds = p["api_seconds"] + p["sql_seconds"]
            else:
                how = "`Client.create_run` + one `Client.log_batch` per run (public API)"
                seconds = p["seconds"]
            per_s = fmt_int(p["runs"] / seconds) if seconds > 0 else "n/a"
            table.rows.append([store, how, fmt_int(p["runs"]), f"{seconds:,.0f} s", per_s])
        return table

    def _search_notes(self, timings: dict[str, Result]) -> list[str]:
        s = self.sizes
        q = s.search_queries_per_shape
        notes = [
            f"Each run: 20 metrics (`m0`..`m19`, uniform in [0, 1)) and 10 params, the same "
            f"seeded data in every store. Queries: `metrics.m0 < t` ordered by `metrics.m0 DESC` "
            f"(same metric) or by `metrics.m1 DESC` (other metric), `max_results=100`, "
            f"{q} thresholds t spread over 0.1..0.9 per shape, after a reference query "
            f"(`metrics.m0 < {REFERENCE_THRESHOLD}`, order by `metrics.m1 DESC`), all timed: "
            f"{2 * q + 1} queries per store in a fresh process, unless the "
            f"{s.search_budget_s:.0f} s budget ran out (then at least one per shape). The clock "
            "covers the public `search_runs` call (query + building the run objects).",
            "'Same first page' compares the run names the reference query returned with MLflow's.",
            "MLflow's store is filled mostly by SQL because its public API does ~80 runs/s "
            "(100k runs ≈ 20 min): run 0 goes through `MlflowClient.create_run` + `log_batch`, "
            "then every other run is a copy of the rows MLflow wrote for run 0 (runs, tags, "
            "params, metrics, latest_metrics; MLflow's own SQLAlchemy table definitions) with its "
            "own id, name, start time, metrics and params.",
        ]
        if self.postgres:
            notes.append(
                "PostgreSQL: Conveyor's URL carries `statement_timeout` = "
                f"{PG_STATEMENT_TIMEOUT_MS // 1000} s (a benchmark guard, so a pathological plan "
                "cannot stall the run). The same store is timed twice: as loaded (this server "
                f"runs with autovacuum = {pg_setting('autovacuum')}, so whatever planner "
                "statistics exist are those Conveyor gathered itself) and again after a manual "
                "`ANALYZE`."
            )
        else:
            notes.append("PostgreSQL was skipped (`--no-postgres`).")
        for label, timing in timings.items():
            if timing.get("first_error"):
                notes.append(f"{label}: first failed query: `{timing['first_error']}`")
            if timing.get("timed_queries", 0) < timing.get("planned_queries", 0):
                notes.append(
                    f"{label}: the time budget ran out after {timing['timed_queries']} of "
                    f"{timing['planned_queries']} queries."
                )
        return notes

    # f ---------------------------------------------------------------------------------------
    def server_memory(self) -> Section:
        """(f) peak RSS of the Conveyor server while ingesting N points (native API)."""
        s = self.sizes
        section = Section(
            "f", f"Conveyor server memory while ingesting {fmt_int(s.ingest_points)} points"
        )
        with self.runner.workdir("f-conveyor-server") as cwd:
            try:
                with self._conveyor_server(cwd) as server:
                    poller = RssPoller(server.pid)
                    baseline = poller.sample()
                    poller.start()
                    client_cwd = cwd / "client"
                    client_cwd.mkdir()
                    params = {
                        "points": s.ingest_points,
                        "batch": s.ingest_batch,
                        "server": server.url,
                    }
                    r = self.runner.run("conveyor", "http_ingest", params, cwd=client_cwd)
                    poller.stop()
                    r.update(baseline_rss_mb=baseline / 2**20, peak_rss_mb=poller.peak / 2**20,
                             rss_samples=poller.samples)  # fmt: skip
            except RuntimeError as exc:
                r = {"error": str(exc)}
        section.raw = {"ingest": r}
        table = Table(["Measurement", "Figure", "Target", "Result"])
        target = f"< {TARGET_SERVER_RSS_MB:.0f} MB"
        name = "f. Conveyor server peak RSS"
        if "error" in r:
            table.rows.append([name, f"ERROR: {error_of(r)}", target, "ERROR"])
            section.checks.append(Check(name, f"ERROR: {error_of(r)}", target, "ERROR"))
        else:
            ok = r["peak_rss_mb"] < TARGET_SERVER_RSS_MB
            figure = f"{r['peak_rss_mb']:,.0f} MB"
            table.rows.append(
                [
                    f"{name} (idle after start: {r['baseline_rss_mb']:,.0f} MB)",
                    figure,
                    target,
                    status(ok),
                ]
            )
            table.rows.append(["Ingest throughput (`HttpClient.log_batch`)", rate_cell(r), "", ""])
            section.checks.append(Check(name, figure, target, status(ok)))  # fmt: skip
        section.tables.append(table)
        section.notes.append(
            f"`conveyor server` (SQLite workspace) ingests {fmt_int(s.ingest_points)} points sent "
            f"by another process through the native API (`HttpClient.log_batch`, "
            f"{fmt_int(s.ingest_batch)} points per request). RSS of the server process (and any "
            f"children) is polled with psutil every {RSS_POLL_INTERVAL_S * 1000:.0f} ms."
        )
        return section


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def markdown_table(table: Table) -> list[str]:
    """Render a table as markdown lines."""
    lines = ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table.rows]
    return lines


def render_markdown(report: dict[str, Any], sections: Sequence[Section]) -> str:
    """Render docs/benchmarks.md."""
    meta = report["meta"]
    m = meta["machine"]
    checks = [c for s in sections for c in s.checks]
    passed = sum(c.status == "PASS" for c in checks)
    lines = [
        "# Benchmarks: tracking",
        "",
        "Conveyor against MLflow 3, measured in the same invocation on the same machine by "
        "`benchmarks/tracking.py`. Ratios are Conveyor ÷ MLflow throughput (for search, MLflow "
        "latency ÷ Conveyor latency): higher is better. Every workload runs in a fresh "
        "subprocess on a fresh temp workspace (SQLite unless stated), and times itself with "
        "`time.perf_counter`.",
        "",
        f"- Date: {meta['date_utc']} (UTC); total benchmark time {meta['wall_s'] / 60:.1f} min",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}",
        f"- Python {m['python']}; conveyor {m['conveyor']} ({_git_text(meta)}), "
        f"SQLAlchemy {m['conveyor_sqlalchemy']}; MLflow {m['mlflow']} "
        f"(its SQLAlchemy {m['mlflow_sqlalchemy']}); PostgreSQL {m['postgresql'] or 'n/a'} "
        f"(autovacuum {m['postgresql_autovacuum'] or 'n/a'})",
        f"- Load average (1/5/15 min) before: {_load(meta['loadavg_before'])}, after: "
        f"{_load(meta['loadavg_after'])} (other work on the machine, if any, slows both sides)",
        f"- Reproduce: `{meta['command']}`" + (" (quick mode: small sizes, a sanity run only)"
                                                 if meta["quick"] else ""),
        "",
        *[
            f"- Re-measured on {r['date_utc']} UTC: sections {', '.join(r['sections'])} "
            f"(`{r['command']}`)"
            for r in meta.get("reruns", [])
        ],
        "",
        f"## Summary: {passed} of {len(checks)} targets met",
        "",
        *markdown_table(
            Table(["Target", "Figure", "Required", "Result"],
                  [[c.name, c.figure, c.target, c.status] for c in checks])
        ),
    ]  # fmt: skip
    for section in sections:
        lines += ["", f"## {section.key}. {section.title}", ""]
        for table in section.tables:
            lines += [*markdown_table(table), ""]
        lines += [f"- {note}" for note in section.notes]
        if section.git and not _same_src(section.git, meta["git_at_start"]):
            lines.append(
                f"- Code under test when this section started: git {section.git['commit']}"
                + (" + uncommitted changes in src/" if section.git["src_modified"] else "")
                + " (src/ changed after the run started)."
            )
    skipped = [k for k in SECTIONS if k not in {s.key for s in sections}]
    if skipped:
        lines += ["", f"Not run this time: {', '.join(skipped)} (`--only`)."]
    lines += [
        "",
        "## Reproducing and profiling",
        "",
        f"- Full run: `{command_line([])}` (20-40 min); `--quick` for a small sanity run "
        "(< 3 min); `--runs N` scales the search experiment; `--only abc` runs some sections; "
        "`--no-postgres` skips PostgreSQL; `--mlflow-batch-points N` measures MLflow's "
        "`log_batch` on fewer points (extrapolated). The MLflow peer lives in "
        "`benchmarks/.venvs/mlflow` (created on first use).",
        "- One workload alone, under cProfile (the profile covers exactly the timed region): "
        "`BENCH_PROFILE=/tmp/runs.prof CONVEYOR_HOME=/tmp/ws .venv/bin/python "
        "benchmarks/_conveyor_workloads.py runs '{\"runs\": 300}'`, then "
        "`python -m pstats /tmp/runs.prof`. MLflow's side: "
        "`benchmarks/.venvs/mlflow/bin/python benchmarks/_peer_mlflow.py runs "
        '\'{"runs": 100, "tracking_uri": "sqlite:////tmp/m/mlflow.db"}\'`.',
        "- Raw results (every figure, sizes and errors): `benchmarks/results/tracking.json`.",
        "",
    ]
    return "\n".join(lines)


def _git_text(meta: dict[str, Any]) -> str:
    start, end = meta["git_at_start"], meta["git_at_end"]
    text = f"git {start['commit']}"
    if start["src_modified"]:
        text += " + uncommitted changes in src/"
    if not _same_src(start, end):
        text += f"; src/ changed during the run (git {end['commit']} at the end)"
    return text


def _load(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def print_summary(sections: Sequence[Section]) -> None:
    """Print every target's figure and result on stdout."""
    checks = [c for s in sections for c in s.checks]
    width = max((len(c.name) for c in checks), default=10)
    print()
    print("Tracking benchmark: Conveyor vs MLflow")
    for c in checks:
        print(f"  {c.status:<5}  {c.name:<{width}}  {c.figure:<32}  target {c.target}")
    passed = sum(c.status == "PASS" for c in checks)
    print(f"{passed} of {len(checks)} targets met")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (sanity run < 3 min)")
    parser.add_argument(
        "--runs", type=int, default=None, help="runs in the search experiment (default 100000)"
    )
    parser.add_argument(
        "--mlflow-batch-points",
        type=int,
        default=None,
        help="points for MLflow's log_batch in (b); fewer than the 1M extrapolates",
    )
    parser.add_argument(
        "--only", default=SECTIONS, help=f"sections to run, e.g. 'abc' (default {SECTIONS})"
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL in (e)")
    parser.add_argument("--keep-work", action="store_true", help="keep the temp workspaces")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds allowed per workload process"
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: rewrite the markdown report from the raw results JSON",
    )
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="markdown report path")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="raw JSON path")
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"--only takes letters among {SECTIONS!r}, got {''.join(sorted(unknown))!r}")
    return args


def sizes_for(args: argparse.Namespace) -> Sizes:
    """Return the workload sizes the options ask for."""
    sizes = QUICK if args.quick else Sizes()
    if args.runs is not None:
        sizes = replace(sizes, search_runs=args.runs)
    if args.mlflow_batch_points is not None:
        sizes = replace(sizes, batch_mlflow_points=args.mlflow_batch_points)
    return sizes


def write_docs(path: Path, text: str) -> None:
    """Replace the tracking section of docs/benchmarks.md (see ``_docs``)."""
    from _docs import replace_section

    replace_section("tracking", text, path)


def command_line(argv: Sequence[str]) -> str:
    """Return the command that reproduces this run."""
    return " ".join([".venv/bin/python benchmarks/tracking.py", *argv])


def _previous_sections(args: argparse.Namespace) -> dict[str, Any]:
    """The saved results of the last run, when a partial run should be merged into them."""
    if not args.results.exists():
        return {}
    saved: dict[str, Any] = json.loads(args.results.read_text())
    if saved.get("meta", {}).get("quick"):
        return {}  # never mix a sanity run's figures with real ones
    return saved


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its report."""
    args = parse_args(argv)
    if args.render_only:
        report = json.loads(args.results.read_text())
        saved = [Section.from_json(s) for s in report["sections"].values()]
        write_docs(args.docs, render_markdown(report, saved))
        print_summary(saved)
        print(f"\nwrote {args.docs} from {args.results}")
        return 0
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    sizes = sizes_for(args)
    started = time.perf_counter()
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    load_before = os.getloadavg()
    git_before = git_state()
    mlflow_version = ensure_peer_venv()
    runner = Runner(peer_python=peer_python(), keep=args.keep_work, timeout_s=args.timeout)
    bench = Benchmark(runner, sizes, postgres=not args.no_postgres)
    steps: list[tuple[str, Callable[[], Section]]] = [
        ("a", bench.single),
        ("b", bench.batched),
        ("c", bench.runs),
        ("d", bench.servers),
        ("e", bench.search),
        ("f", bench.server_memory),
    ]
    sections: list[Section] = []
    try:
        for key, step in steps:
            if key in args.only:
                log(f"section {key}")
                git = git_state()
                section = step()
                section.git = git
                sections.append(section)
    finally:
        runner.close()
    partial = set(args.only) != set(SECTIONS) and not args.quick
    previous = _previous_sections(args) if partial else {}
    report = {
        "meta": {
            "date_utc": date,
            "wall_s": time.perf_counter() - started,
            "command": command_line(raw_argv),
            "quick": args.quick,
            "machine": machine_facts(mlflow_version),
            "sizes": asdict(sizes),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "git_at_start": git_before,
            "git_at_end": git_state(),
        },
        "sections": {s.key: asdict(s) for s in sections},
    }
    if previous:
        # A partial re-run: keep the other sections of the last full run, and say which
        # sections were re-measured when, in each of them.
        for section in sections:
            section.notes.append(
                f"Re-measured on {date} UTC with `{command_line(raw_argv)}`; the other sections "
                f"are from the run of {previous['meta']['date_utc']} UTC."
            )
        merged = {**previous["sections"], **{s.key: asdict(s) for s in sections}}
        report["meta"] = {
            **previous["meta"],
            "reruns": [
                *previous["meta"].get("reruns", []),
                {"date_utc": date, "sections": args.only, "command": command_line(raw_argv)},
            ],
        }
        report["sections"] = {k: merged[k] for k in SECTIONS if k in merged}
        sections = [Section.from_json(v) for v in report["sections"].values()]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(report, indent=2) + "\n")
    args.docs.parent.mkdir(parents=True, exist_ok=True)
    write_docs(args.docs, render_markdown(report, sections))
    print_summary(sections)
    print(f"\nwrote {args.docs} and {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
