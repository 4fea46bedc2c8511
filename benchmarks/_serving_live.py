"""The serving benchmark's live-traffic rows (Conveyor only): monitoring on, and hot swap.

**monitoring**: 1-row ``/invocations`` at ``MONITORING_CONNECTIONS``, on a fresh server each
time: without a monitor ("off": the recorder on, nothing to feed), and with a monitor on the
served name ("on": ``bench``, reference: the data set with the model's predictions; after the
server stops, its last window flushed, the monitor's windows must hold the requests it served).
``MONITORING_ROUNDS`` rounds of one off and one on point, in alternating order (off-on, on-off,
...), so that a host whose speed drifts over minutes weighs on both sides alike; the figure is
the median of the rounds' on ÷ off ratios. Target: ≥ 0.95.

**hotswap**: two ~50 MB versions of a bigger model (``ExtraTreesClassifier`` on an enlarged,
noisy copy of the same 30 columns; the pickle size is checked) registered as ``bigbench``;
``conveyor serve models:/bigbench@production`` is loaded by ``_serving_probe.py`` (which keeps
every request's start, latency and answering version) for ``--duration`` seconds (the steady
p99), then ``SWAPS`` times while the alias moves (to version 2, back to 1, to 2 again) a
quarter into each run. A swap window runs from the move until one second after the later of
the first answer by the new version and the last answer by the old one. Target: in every swap,
no request in the window above 2x the steady p99, and no error.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _serving_model import dataset, load
from _serving_servers import ServerError, ServerProcess
from tracking import log

BENCH_DIR = Path(__file__).resolve().parent
MONITORING_CONNECTIONS = 32
MONITORING_ROUNDS = 3
MONITOR = "bench-watch"
SERVED_NAME = "bench"

HOTSWAP_CONNECTIONS = 32
BIG_MODEL = "bigbench"
BIG_ROWS = 40_000
BIG_TREES = 22  # ~2.35 MB per tree on BIG_ROWS noisy rows
BIG_TARGET_MB = (45.0, 60.0)
SWAPS = (2, 1, 2)  # the versions the alias moves to, in turn
SWAP_MIN_S = 8.0  # long enough for every replica to poll, load 50 MB and swap
SETTLE_S = 1.0

_ERRORS = (ServerError, RuntimeError, OSError, ValueError, subprocess.SubprocessError)


def _workspace(workdir: Path) -> Any:
    """The benchmark's Conveyor workspace (what ``CONVEYOR_HOME=workdir/.conveyor`` opens)."""
    from conveyor.tracking import Workspace

    home = (workdir / ".conveyor").resolve()
    return Workspace(f"sqlite:///{home / 'conveyor.db'}", str(home / "blobs"))


def _server(served: Any, name: str, model_uri: str | None = None) -> ServerProcess:
    ctx, side = served.ctx, served.side
    argv = side.argv(ctx.workdir, ctx.args.workers)
    if model_uri is not None:
        argv = [model_uri if a.startswith("models:/") else a for a in argv]
    env = side.env(ctx.workdir, ctx.args.workers)
    return ServerProcess(name, argv, env=env, cwd=ctx.workdir, ready_path=side.ready_path)


# -------------------------------------------------------------------------------------------
# Monitoring on vs off
# -------------------------------------------------------------------------------------------


def measure_monitoring(served: Any) -> dict[str, Any]:
    """Throughput at 32 connections without a monitor, then with one (a fresh server)."""
    try:
        return _monitoring(served)
    except _ERRORS as exc:
        log(f"    monitoring: ERROR {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"[:2000]}


def _monitoring(served: Any) -> dict[str, Any]:
    endpoint = served.side.endpoints[0]  # /invocations
    c = MONITORING_CONNECTIONS
    workdir = served.ctx.workdir
    rounds: list[dict[str, Any]] = []
    for i in range(MONITORING_ROUNDS):
        loads: dict[str, Any] = {}
        for phase in ("off", "on") if i % 2 == 0 else ("on", "off"):
            _delete_monitor(workdir)
            if phase == "on":
                _create_monitor(workdir)
            with _server(served, f"conveyor-monitoring-{phase}") as server:
                loads[phase] = dataclasses.replace(served, server=server).load(endpoint, 1, c)
            if phase == "on":
                loads["rows"] = _monitor_rows(workdir)
        off, on = loads["off"], loads["on"]
        ratio = on.rps / off.rps if off.rps else float("nan")
        log(f"    monitoring round {i + 1}: on ÷ off {ratio:.3f}; {loads['rows']} rows monitored")
        rows = loads["rows"]
        rounds.append({"off": off.as_dict(), "on": on.as_dict(), "ratio": ratio, "rows": rows})
    middle = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    return {
        "connections": c,
        "off": middle["off"],
        "on": middle["on"],
        "ratio": middle["ratio"],
        "ratios": [r["ratio"] for r in rounds],
        "monitor_rows": min(r["rows"] for r in rounds),
    }


def _delete_monitor(workdir: Path) -> None:
    from conveyor.errors import NotFoundError
    from conveyor.monitoring.service import Monitors

    ws = _workspace(workdir)
    try:
        Monitors(ws.engine, ws.blobs).delete(MONITOR)
    except NotFoundError:
        pass
    finally:
        ws.close()


def _create_monitor(workdir: Path) -> None:
    from conveyor.monitoring.service import Monitors

    reference = dataset()
    reference["prediction"] = load(workdir).predict(reference)
    ws = _workspace(workdir)
    try:
        Monitors(ws.engine, ws.blobs).create(
            MONITOR, reference, deployment=SERVED_NAME, prediction="prediction"
        )
    finally:
        ws.close()


def _monitor_rows(workdir: Path) -> int:
    from conveyor.monitoring.service import Monitors

    ws = _workspace(workdir)
    try:
        sketch = Monitors(ws.engine, ws.blobs).window(MONITOR, 0, 2**62)
    finally:
        ws.close()
    return 0 if sketch is None else int(sketch.rows)


# -------------------------------------------------------------------------------------------
# Hot swap of a 50 MB model
# -------------------------------------------------------------------------------------------


def measure_hotswap(served: Any) -> dict[str, Any]:
    """Steady p99, then the largest latency while the alias moves between two 50 MB versions."""
    try:
        return _hotswap(served)
    except _ERRORS as exc:
        log(f"    hotswap: ERROR {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"[:2000]}


def _hotswap(served: Any) -> dict[str, Any]:
    ctx = served.ctx
    workdir, args = ctx.workdir, ctx.args
    sizes = _register_big_models(workdir)
    body = workdir / "hotswap-body.json"
    body.write_bytes(served.bodies[("invocations", 1)])
    c = HOTSWAP_CONNECTIONS
    swap_s = max(args.duration, SWAP_MIN_S)
    ws = _workspace(workdir)
    try:
        from conveyor.registry.service import Registry

        registry = Registry(ws.engine)
        with _server(served, "conveyor-hotswap", f"models:/{BIG_MODEL}@production") as server:
            url = server.url + "/invocations"
            if args.warmup > 0:
                _probe(url, body, c, args.warmup, workdir)
            steady = _probe(url, body, c, args.duration, workdir)
            trials, old = [], 1
            for new in SWAPS:
                out = workdir / "hotswap-swap.json"
                proc = _start_probe(url, body, c, swap_s, out)
                time.sleep(swap_s / 4)
                moved_at = time.time()
                registry.set_alias(BIG_MODEL, "production", new)
                _finish(proc, swap_s)
                trials.append(analyze(steady, json.loads(out.read_text()), moved_at, old, new))
                log(f"    hotswap {old} -> {new}: {trials[-1]['summary']}")
                old = new
    finally:
        ws.close()
    worst = max(trials, key=lambda t: t.get("ratio_to_p99", float("inf")))
    result = {
        "connections": c,
        "model_mb": sizes,
        **worst,
        "errors": sum(t["errors"] for t in trials),
        "ratios": [t.get("ratio_to_p99", float("nan")) for t in trials],
    }
    if any("failure" in t for t in trials):
        result["failure"] = next(t["failure"] for t in trials if "failure" in t)
    log(f"    hotswap: {result['summary']}")
    return result


def _register_big_models(workdir: Path) -> dict[str, float]:
    """Fit and register two ~50 MB versions of ``bigbench``; alias ``production`` -> 1."""
    from sklearn.ensemble import ExtraTreesClassifier

    from conveyor.models import log_model
    from conveyor.registry.service import Registry
    from conveyor.tracking import LocalClient

    x, y = _big_data()
    ws = _workspace(workdir)
    sizes: dict[str, float] = {}
    try:
        client = LocalClient(workspace=ws)
        experiment = client.get_or_create_experiment("hotswap")
        registry = Registry(ws.engine)
        for seed in (1, 2):
            model = ExtraTreesClassifier(n_estimators=BIG_TREES, random_state=seed).fit(x, y)
            mb = len(pickle.dumps(model)) / 1e6
            if not BIG_TARGET_MB[0] <= mb <= BIG_TARGET_MB[1]:
                msg = f"the hot-swap model pickles to {mb:.1f} MB, not ~50 MB; adjust BIG_TREES"
                raise RuntimeError(msg)
            run_id = client.create_run(experiment.experiment_id).info.run_id
            log_model(model, "model", input_example=dataset()[:5], run_id=run_id, client=client)
            version = registry.create_version(BIG_MODEL, f"runs:/{run_id}/model", create_model=True)
            sizes[f"v{version.version}"] = round(mb, 1)
        registry.set_alias(BIG_MODEL, "production", 1)
    finally:
        ws.close()
    log(f"    hotswap: registered {BIG_MODEL} versions of {sizes} MB (pickled)")
    return sizes


def _big_data() -> tuple[Any, Any]:
    """The 30 columns, resampled to ``BIG_ROWS`` rows with 5 % noise and 20 % flipped labels."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(data.data), BIG_ROWS)
    x = data.data.iloc[idx].reset_index(drop=True) * rng.normal(1, 0.05, (BIG_ROWS, 30))
    y = data.target.to_numpy()[idx]
    return x, np.where(rng.random(BIG_ROWS) < 0.2, 1 - y, y)


def _start_probe(
    url: str, body: Path, connections: int, seconds: float, out: Path
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, str(BENCH_DIR / "_serving_probe.py"), url, str(body)]
    return subprocess.Popen([*argv, str(connections), str(seconds), str(out)])


def _finish(proc: subprocess.Popen[bytes], seconds: float) -> None:
    if proc.wait(timeout=seconds + 60) != 0:
        msg = f"the load probe failed (exit status {proc.returncode})"
        raise RuntimeError(msg)


def _probe(url: str, body: Path, connections: int, seconds: float, workdir: Path) -> Any:
    out = workdir / "hotswap-probe.json"
    _finish(_start_probe(url, body, connections, seconds, out), seconds)
    return json.loads(out.read_text())


def analyze(
    steady: dict[str, Any], swap: dict[str, Any], moved_at: float, old: int = 1, new: int = 2
) -> dict[str, Any]:
    """Steady p99, the swap window and its largest latency (see the module docstring)."""
    steady_ms = np.asarray(steady["latency_s"]) * 1000
    starts = np.asarray(swap["start"])
    latency_ms = np.asarray(swap["latency_s"]) * 1000
    versions = np.asarray(swap["version"])
    errors = int(np.sum(np.asarray(swap["status"]) != 200)) + int(
        np.sum(np.asarray(steady["status"]) != 200)
    )
    p99 = float(np.percentile(steady_ms, 99)) if len(steady_ms) else float("nan")
    out: dict[str, Any] = {
        "steady": {"requests": len(steady_ms), "p50_ms": _pct(steady_ms, 50), "p99_ms": p99},
        "errors": errors,
    }
    after = starts >= moved_at
    by_new = starts[after & (versions == str(new))]
    if not len(by_new):
        out["failure"] = f"no request was answered by version {new} before the run ended"
        out["summary"] = out["failure"]
        return out
    by_old = starts[after & (versions == str(old))]
    end = max(float(by_new.min()), float(by_old.max()) if len(by_old) else moved_at) + SETTLE_S
    window = after & (starts <= end)
    worst = float(latency_ms[window].max())
    out["swap"] = {
        "window_s": round(end - moved_at, 3),
        "requests": int(window.sum()),
        "max_ms": worst,
        "p99_ms": _pct(latency_ms[window], 99),
        "first_new_after_s": round(float(by_new.min()) - moved_at, 3),
        "max_whole_run_ms": float(latency_ms.max()),
        "steady_floor": _steady_floor(steady, end - moved_at, p99),
    }
    out["ratio_to_p99"] = worst / p99 if p99 else float("nan")
    out["summary"] = (
        f"steady p99 {p99:.2f} ms; max {worst:.2f} ms over {int(window.sum())} requests in the "
        f"{end - moved_at:.1f} s swap window ({out['ratio_to_p99']:.2f}x); {errors} errors"
    )
    return out


def _steady_floor(steady: dict[str, Any], window_s: float, p99: float) -> float:
    """The worst ``max / p99`` over windows as long as the swap window in the steady run (no
    swap at all, windows overlapping by half): what the ratio is without any swap."""
    starts = np.asarray(steady["start"])
    latency_ms = np.asarray(steady["latency_s"]) * 1000
    if not len(starts) or not p99 or window_s <= 0:
        return float("nan")
    starts = starts - starts.min()
    ratios, at = [], 0.0
    while at + window_s <= starts.max() or not ratios:
        inside = (starts >= at) & (starts < at + window_s)
        if inside.any():
            ratios.append(float(latency_ms[inside].max()) / p99)
        at += window_s / 2
        if at > starts.max():
            break
    return max(ratios) if ratios else float("nan")


def _pct(values: Any, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")
