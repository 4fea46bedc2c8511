"""Registry benchmark: Conveyor's server against MLflow's, through the same clients.

Usage (from the repository root)::

    .venv/bin/python benchmarks/registry.py                 # 200 iterations, best of 3
    .venv/bin/python benchmarks/registry.py --iterations 50 --repeats 1 --modes lean

One iteration is what a promotion pipeline does: register a new version of an existing run's
model (``runs:/RUN_ID/model``), point the alias ``production`` at it, and resolve
``models:/name@production``. Target: Conveyor at least 5x MLflow's iterations per second.

Two clients drive both servers, each identical for both sides:

* ``lean`` (the server-to-server comparison, the one the target is judged on): a minimal HTTP
  client (stdlib ``http.client``, one keep-alive connection) sends exactly the three REST calls
  of MLflow's registry API per iteration: ``POST model-versions/create``, ``POST
  registered-models/alias`` and ``GET registered-models/alias``, the same bytes to both servers
  (only the run id differs: each server generates its own). It also times ``GET /health``, the
  floor a request costs on each server.
* ``mlflow`` (end to end): the unmodified ``MlflowClient`` (``create_model_version``,
  ``set_registered_model_alias``, ``get_model_version_by_alias``). The client costs ~3-4 ms
  per call itself and ``set_registered_model_alias`` makes a fourth call (it gets the model
  first), so this ratio is capped well below the servers' own.

Each measurement starts a fresh server on a fresh SQLite workspace (``conveyor server``;
``mlflow server --backend-store-uri sqlite:///... --workers 1`` with its job runner off, as in
``tracking.py``) and runs the client script under the MLflow peer virtualenv's interpreter
(``benchmarks/.venvs/mlflow``, created by ``tracking.py``'s ``ensure_peer_venv``); the setup
(experiment, run, registered model) goes through ``MlflowClient`` in both modes. Sides
alternate (Conveyor, MLflow, Conveyor, ...) and each keeps its best of ``--repeats`` per mode.
Writes ``benchmarks/results/registry.json`` and its section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _docs import replace_section
from tracking import (
    PEER_VENV,
    TIMES,
    WORK_ROOT,
    Server,
    clean_env,
    ensure_peer_venv,
    git_state,
    log,
    machine_facts,
    peer_python,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "registry.json"
TARGET_RATIO = 5.0

# The client scripts run under the peer's interpreter; both modes share the setup.
SETUP = r"""
import json, logging, sys, time
logging.disable(logging.WARNING)
from mlflow import MlflowClient

url, iterations = sys.argv[1], int(sys.argv[2])
client = MlflowClient(url, registry_uri=url)
run = client.create_run(client.create_experiment("registry-bench"))
run_id = run.info.run_id
client.log_text(run_id, "weights", "model/weights.txt")
client.set_terminated(run_id)
client.create_registered_model("churn")
source = f"runs:/{run_id}/model"
phases = {"create_model_version": 0.0, "set_alias": 0.0, "get_by_alias": 0.0}

def report(elapsed, **extra):
    print("BENCH_RESULT " + json.dumps({
        "iterations": iterations,
        "seconds": elapsed,
        "iterations_per_s": iterations / elapsed,
        "ms_per_call": {k: 1000 * v / iterations for k, v in phases.items()},
        **extra,
    }))
"""

# End to end: the unmodified mlflow client.
MLFLOW_CLIENT = r"""
for _ in range(3):  # warm-up: connections, first-request imports
    client.create_model_version("churn", source, run_id=run_id)
start = time.perf_counter()
for _ in range(iterations):
    t0 = time.perf_counter()
    version = client.create_model_version("churn", source, run_id=run_id)
    t1 = time.perf_counter()
    client.set_registered_model_alias("churn", "production", version.version)
    t2 = time.perf_counter()
    found = client.get_model_version_by_alias("churn", "production")
    t3 = time.perf_counter()
    assert found.version == version.version, (found.version, version.version)
    phases["create_model_version"] += t1 - t0
    phases["set_alias"] += t2 - t1
    phases["get_by_alias"] += t3 - t2
report(time.perf_counter() - start)
"""

# Server to server: the three REST calls over one keep-alive connection, nothing else.
LEAN_CLIENT = r"""
import http.client
from urllib.parse import urlsplit

host = urlsplit(url)
conn = http.client.HTTPConnection(host.hostname, host.port)
api = "/api/2.0/mlflow"
headers = {"Content-Type": "application/json"}
create_body = json.dumps({"name": "churn", "source": source, "run_id": run_id}).encode()
get_path = api + "/registered-models/alias?name=churn&alias=production"

def call(method, path, body=None):
    conn.request(method, path, body=body, headers=headers if body is not None else {})
    response = conn.getresponse()
    data = response.read()
    assert response.status == 200, (method, path, response.status, data[:500])
    return data

def iteration():
    t0 = time.perf_counter()
    version = json.loads(call("POST", api + "/model-versions/create", create_body))[
        "model_version"]["version"]
    t1 = time.perf_counter()
    alias_body = json.dumps({"name": "churn", "alias": "production", "version": version})
    call("POST", api + "/registered-models/alias", alias_body.encode())
    t2 = time.perf_counter()
    found = json.loads(call("GET", get_path))["model_version"]["version"]
    t3 = time.perf_counter()
    assert found == version, (found, version)
    return t1 - t0, t2 - t1, t3 - t2

for _ in range(3):  # warm-up: the connection, first-request imports
    iteration()
    call("GET", "/health")
health = 0.0
for _ in range(iterations):
    t0 = time.perf_counter()
    call("GET", "/health")
    health += time.perf_counter() - t0
start = time.perf_counter()
for _ in range(iterations):
    for phase, seconds in zip(phases, iteration()):
        phases[phase] += seconds
report(time.perf_counter() - start, health_ms=1000 * health / iterations)
"""
CLIENTS = {"lean": SETUP + LEAN_CLIENT, "mlflow": SETUP + MLFLOW_CLIENT}
MODE_TITLES = {
    "lean": "Server to server (lean HTTP client, the target's measure)",
    "mlflow": "End to end (unmodified `mlflow` client)",
}
PHASES = ("create_model_version", "set_alias", "get_by_alias")


def _server(side: str, cwd: Path) -> Server:
    if side == "conveyor":
        conveyor = Path(sys.executable).parent / "conveyor"
        return Server(
            "conveyor",
            [str(conveyor), "server", "--host", "127.0.0.1", "--port", "{port}"],
            env=clean_env(CONVEYOR_HOME=str(cwd / ".conveyor")),
            cwd=cwd,
        )
    return Server(
        "mlflow",
        [
            str(PEER_VENV / "bin" / "mlflow"), "server",
            "--backend-store-uri", f"sqlite:///{cwd / 'mlflow.db'}",
            "--default-artifact-root", "mlflow-artifacts:/",
            "--serve-artifacts", "--artifacts-destination", str(cwd / "mlartifacts"),
            "--host", "127.0.0.1", "--port", "{port}", "--workers", "1",
        ],
        env=clean_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
        cwd=cwd,
    )  # fmt: skip


def measure(side: str, mode: str, iterations: int) -> dict[str, Any]:
    """Start a fresh ``side`` server, run ``mode``'s client script against it, return its result."""
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"registry-{side}-", dir=WORK_ROOT) as tmp:
        cwd = Path(tmp)
        with _server(side, cwd) as server:
            proc = subprocess.run(
                [str(peer_python()), "-c", CLIENTS[mode], server.url, str(iterations)],
                capture_output=True,
                text=True,
                env=clean_env(),
                cwd=cwd,
                timeout=1800,
                check=False,
            )
            for line in proc.stdout.splitlines():
                if line.startswith("BENCH_RESULT "):
                    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
                    return result
            return {"error": proc.stderr[-2000:], "server_log_tail": server.log_tail()}


# Written from the profiles behind the figures (py-spy on the Conveyor server, same machine).
WHERE_THE_TIME_GOES = (
    "Where Conveyor's time goes (profiled on the same machine with py-spy, and timed in "
    "process): the registry service itself takes about 0.45 ms to register a version, 0.45 ms "
    "to set an alias and 0.3 ms to resolve one (SQLite through SQLAlchemy Core, precompiled "
    "statements: 5, 5 and 2 statements after `BEGIN`, two of each write being the audit "
    "event). Driving the app in process over ASGI (no sockets) the three routes take about "
    "0.8, 0.85 and 0.65 ms and `/health` 0.15 ms: the rest of a route is FastAPI's routing, "
    "dependency solving and the one hop to the thread pool. Over loopback HTTP, uvicorn's "
    "request parsing and socket writes add ~0.3-0.5 ms per call on these two shared cores; the "
    "`GET /health` row shows that floor for each server."
)


def _table(result: dict[str, Any]) -> list[str]:
    c, m = result["conveyor"], result["mlflow"]
    ratio = result["ratio"]
    rows = [
        "| | Conveyor server | MLflow server | Conveyor ÷ MLflow |",
        "|---|---|---|---|",
        f"| iterations/s (create version + set alias + get by alias) | "
        f"{c['iterations_per_s']:.1f} | {m['iterations_per_s']:.1f} | {ratio:.2f}{TIMES} |",
    ]
    for phase in PHASES:
        cm, mm = c["ms_per_call"][phase], m["ms_per_call"][phase]
        rows.append(f"| `{phase}`, ms per call | {cm:.2f} | {mm:.2f} | {mm / cm:.2f}{TIMES} |")
    if "health_ms" in c:
        ch, mh = c["health_ms"], m["health_ms"]
        rows.append(f"| `GET /health` (the floor of a request), ms | {ch:.2f} | {mh:.2f} | |")
    return rows


def render(report: dict[str, Any]) -> str:
    """The docs/benchmarks.md section."""
    facts = report["machine"]
    modes = report["modes"]
    lean = modes.get("lean")
    verdict = ""
    if lean is not None:
        met = "met" if lean["ratio"] >= TARGET_RATIO else "NOT met"
        verdict = f"Result, server to server: **{lean['ratio']:.2f}{TIMES}, target {met}**"
        if "mlflow" in modes:
            end_to_end = modes["mlflow"]["ratio"]
            verdict += f"; end to end through the `mlflow` client: {end_to_end:.2f}{TIMES}"
        verdict += "."
    lines = [
        "## Model registry through a server",
        "",
        "Target: register + set alias + resolve `models:/name@alias` "
        f"≥ {TARGET_RATIO:.0f}{TIMES} MLflow's server. {verdict}",
        "",
        "Two clients drive both servers, each the same for both sides. The **server-to-server** "
        "figure (the target's measure) uses a lean HTTP client (stdlib `http.client`, one "
        "keep-alive connection) sending exactly the three REST calls of MLflow's registry API "
        "per iteration (`POST model-versions/create`, `POST registered-models/alias`, "
        "`GET registered-models/alias`), the same bytes to both servers. The **end-to-end** "
        "figure uses the unmodified `MlflowClient` (`create_model_version`, "
        "`set_registered_model_alias`, `get_model_version_by_alias`): the client itself costs "
        "~3-4 ms per call and its `set_registered_model_alias` makes a fourth call (it gets the "
        "registered model first), which caps that ratio well below the servers' own.",
    ]
    for mode, result in modes.items():
        lines += ["", f"### {MODE_TITLES[mode]}", "", *_table(result)]
    lines += [
        "",
        f"Each figure is the side's best of {report['repeats']} alternating measurements of "
        f"{report['iterations']} iterations, each on a fresh server over a fresh SQLite "
        "workspace (`conveyor server`; `mlflow server --backend-store-uri sqlite:///... "
        "--workers 1`, job runner off); times are the client's, run under the MLflow peer "
        f"virtualenv's interpreter (MLflow {facts['mlflow']}).",
        "",
        WHERE_THE_TIME_GOES,
        "",
        f"Measured {report['date']} on {facts['cpu']} ({facts['cores']} cores, "
        f"{facts['ram_gib']} GiB), {facts['os']}, Python {facts['python']}. "
        f"Command: `{report['command']}`.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure both servers in each mode, write the results and the docs section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=tuple(CLIENTS),
        default=list(CLIENTS),
        help="clients to measure with (default: both)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument(
        "--render-only", action="store_true", help=f"rewrite the docs section from {RESULTS.name}"
    )
    args = parser.parse_args(argv)
    if args.render_only:
        replace_section("registry", render(json.loads(RESULTS.read_text())))
        return 0
    version = ensure_peer_venv()
    tries: dict[str, dict[str, list[dict[str, Any]]]] = {
        mode: {"conveyor": [], "mlflow": []} for mode in args.modes
    }
    for attempt in range(args.repeats):
        for mode, sides in tries.items():
            for side, results in sides.items():
                log(f"{mode} client, {side}: measurement {attempt + 1} of {args.repeats}")
                result = measure(side, mode, args.iterations)
                if "error" in result:
                    log(f"  -> ERROR {result['error']}")
                    print(json.dumps(result, indent=2), file=sys.stderr)
                    return 1
                log(f"  -> {result['iterations_per_s']:.1f} iterations/s")
                results.append(result)
    modes: dict[str, Any] = {}
    for mode, sides in tries.items():
        best = {s: max(r, key=lambda x: x["iterations_per_s"]) for s, r in sides.items()}
        ratio = best["conveyor"]["iterations_per_s"] / best["mlflow"]["iterations_per_s"]
        modes[mode] = {**best, "ratio": ratio, "all": sides}
    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "command": " ".join(
            [".venv/bin/python", "benchmarks/registry.py", *(argv or sys.argv[1:])]
        ),
        "iterations": args.iterations,
        "repeats": args.repeats,
        "machine": {**machine_facts(version), "platform": platform.machine()},
        "git": git_state(),
        "modes": modes,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    text = render(report)
    print(text)
    if not args.no_docs:
        replace_section("registry", text)
    judged = modes.get("lean", next(iter(modes.values())))
    return 0 if judged["ratio"] >= TARGET_RATIO else 2


if __name__ == "__main__":
    raise SystemExit(main())
