"""Drift benchmark: Conveyor's ``detect_drift`` against Evidently, NannyML and plain SciPy.

Usage (from the repository root)::

    .venv/bin/python benchmarks/drift.py             # 1M reference x 1M current rows
    .venv/bin/python benchmarks/drift.py --quick     # 100k x 100k
    .venv/bin/python benchmarks/drift.py --rows 300000 --only conveyor,numpy

The data set (20 numeric + 5 categorical columns; mean shift, variance change, category
shift and a new category in some columns) is generated once, saved under
``benchmarks/.work/drift-<rows>/`` and loaded by every tool in its own fresh subprocess, so the
peak RSS (``ru_maxrss``) of each is separate. Each process times only the drift computation
(``time.perf_counter``); building the DataFrames is not timed. Evidently 0.7 and NannyML live in
their own virtualenvs (``benchmarks/.venvs/evidently``, ``benchmarks/.venvs/nannyml-drift``),
created on first use. Results: ``benchmarks/results/drift.json`` and a section at the end of
``docs/benchmarks.md``.

This module is also the data format the peer scripts import (``load_frames``): standard
library and NumPy at import time only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORK = BENCH_DIR / ".work"
RESULTS = BENCH_DIR / "results" / "drift.json"
DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "## Drift detection: Conveyor vs Evidently, NannyML and plain SciPy"
PEERS = {
    "evidently": ("evidently", ["evidently>=0.7,<0.8", "pandas<3"], "_peer_evidently.py"),
    # NannyML 0.13 imports statsmodels without declaring it and needs pandas < 3.
    "nannyml": ("nannyml-drift", ["nannyml", "statsmodels", "pandas<3"], "_peer_nannyml_drift.py"),
}
NUMERIC, CATEGORICAL = 20, 5
SEED = 20_240_601
TOOLS = ("conveyor", "numpy", "evidently", "nannyml")
TARGETS = {"evidently": 30.0, "nannyml": 5.0, "numpy": 1.0}


# --- data: one format for every interpreter ---------------------------------------------


def save_frames(path: Path, reference: dict[str, Any], current: dict[str, Any]) -> None:
    """Save two data sets (column -> numeric array, or (codes, categories)) as ``.npz``."""
    path.mkdir(parents=True, exist_ok=True)
    for side, data in (("reference", reference), ("current", current)):
        arrays: dict[str, Any] = {"names": np.array(list(data)), "kinds": np.array([])}
        kinds = []
        for i, values in enumerate(data.values()):
            if isinstance(values, tuple):
                arrays[f"v{i}"], arrays[f"c{i}"] = values
                kinds.append("categorical")
            else:
                arrays[f"v{i}"] = values
                kinds.append("numeric")
        arrays["kinds"] = np.array(kinds)
        np.savez(path / f"{side}.npz", **arrays)


def load_frames(path: str | Path) -> tuple[Any, Any, list[str], list[str]]:
    """Load ``(reference, current, numeric names, categorical names)`` as DataFrames.

    Categorical columns are object arrays built by indexing one array of category strings
    (code -1 is None): every row shares the category's string object, as a DataFrame read
    from a file with repeated values would.
    """
    import pandas as pd

    frames = []
    for side in ("reference", "current"):
        with np.load(Path(path) / f"{side}.npz") as data:
            names, kinds = [str(n) for n in data["names"]], [str(k) for k in data["kinds"]]
            columns: dict[str, Any] = {}
            for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
                if kind == "categorical":
                    lookup = np.array([*data[f"c{i}"].tolist(), None], dtype=object)
                    # dtype=object: pandas 3 would otherwise convert to Arrow strings, and
                    # the peers (pandas 2) get object columns; every tool gets the same data.
                    columns[name] = pd.Series(lookup[data[f"v{i}"]], dtype=object, copy=False)
                else:
                    columns[name] = data[f"v{i}"]
        frames.append(pd.DataFrame(columns, copy=False))
    numeric = [n for n, k in zip(names, kinds, strict=True) if k == "numeric"]
    categorical = [n for n, k in zip(names, kinds, strict=True) if k == "categorical"]
    return frames[0], frames[1], numeric, categorical


def generate(rows: int) -> Path:
    """Write the benchmark data set for ``rows`` rows per side (once) and return its dir."""
    path = WORK / f"drift-{rows}"
    if (path / "current.npz").exists():
        return path
    rng = np.random.default_rng(SEED)
    letters = np.array([f"cat_{k}" for k in range(6)])
    sides = []
    for shifted in (False, True):
        data: dict[str, Any] = {}
        for i in range(NUMERIC):
            mean = 0.25 if shifted and i < 4 else 0.0  # num0-3: mean shift
            scale = 1.5 if shifted and i == 4 else 1.0  # num4: variance change
            data[f"num{i}"] = rng.normal(mean, scale, rows) * (i + 1)
        for j in range(CATEGORICAL):
            weights = np.array([0.3, 0.25, 0.2, 0.15, 0.1, 0.0])
            if shifted and j == 0:
                weights = np.array([0.1, 0.15, 0.2, 0.25, 0.3, 0.0])  # cat0: label shift
            if shifted and j == 1:
                weights = np.array([0.25, 0.2, 0.2, 0.15, 0.1, 0.1])  # cat1: new category
            codes = rng.choice(6, size=rows, p=weights).astype(np.int8)
            data[f"cat{j}"] = (codes, letters)
        sides.append(data)
    save_frames(path, sides[0], sides[1])
    return path


# --- workloads run in fresh processes ---------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def conveyor_workload(params: dict[str, Any]) -> dict[str, Any]:
    """Conveyor: ``detect_drift`` with Evidently's automatic tests."""
    from _common import clock

    from conveyor.monitoring.drift import detect_drift

    reference, current, _numeric, categorical = load_frames(params["data_dir"])
    baseline = _peak_mb()
    with clock() as timer:
        report = detect_drift(reference, current, categorical=categorical)
    return {
        "seconds": timer.seconds,
        "peak_rss_mb": _peak_mb(),
        "rss_after_load_mb": baseline,
        "drifted": sorted(c.column for c in report.columns if c.drifted),
        "tests": sorted({c.stattest or "-" for c in report.columns}),
    }


def _psi(ref_counts: Any, cur_counts: Any, eps: float = 1e-4) -> float:
    p = np.maximum(ref_counts / ref_counts.sum(), eps)
    q = np.maximum(cur_counts / cur_counts.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def numpy_workload(params: dict[str, Any]) -> dict[str, Any]:
    """The plain script: PSI on 10 reference quantile bins + ``scipy.stats.ks_2samp`` per
    numeric column; PSI on categories + ``scipy.stats.chisquare`` per categorical column."""
    from _common import clock
    from scipy import stats

    reference, current, numeric, categorical = load_frames(params["data_dir"])
    baseline = _peak_mb()
    drifted = []
    with clock() as timer:
        for name in numeric:
            ref, cur = reference[name].to_numpy(), current[name].to_numpy()
            edges = np.concatenate(
                ([-np.inf], np.quantile(ref, np.linspace(0.1, 0.9, 9)), [np.inf])
            )
            value = _psi(np.histogram(ref, edges)[0], np.histogram(cur, edges)[0])
            p_value = stats.ks_2samp(ref, cur).pvalue
            if value >= 0.1 or p_value <= 0.05:
                drifted.append(name)
        for name in categorical:
            keys, codes = np.unique(
                np.concatenate([reference[name].to_numpy(), current[name].to_numpy()]).astype(str),
                return_inverse=True,
            )
            ref_counts = np.bincount(codes[: len(reference)], minlength=keys.size)
            cur_counts = np.bincount(codes[len(reference) :], minlength=keys.size)
            value = _psi(ref_counts, cur_counts)
            expected = np.maximum(ref_counts, 1e-9) * cur_counts.sum() / ref_counts.sum()
            p_value = stats.chisquare(
                cur_counts, expected * cur_counts.sum() / expected.sum()
            ).pvalue
            if value >= 0.1 or p_value < 0.05:
                drifted.append(name)
    return {
        "seconds": timer.seconds,
        "peak_rss_mb": _peak_mb(),
        "rss_after_load_mb": baseline,
        "drifted": drifted,
    }


WORKLOADS = {"conveyor": conveyor_workload, "numpy": numpy_workload}


# --- orchestration ----------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[drift {dt.datetime.now(dt.UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def ensure_venv(peer: str) -> Path:
    """Create the peer's virtualenv on first use; return its python."""
    folder, requirements, _script = PEERS[peer]
    venv = BENCH_DIR / ".venvs" / folder
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.exists() and marker.read_text() == " ".join(requirements):
        return python
    if not python.exists():
        log(f"creating {venv}")
        subprocess.run(
            [shutil.which("python3") or sys.executable, "-m", "venv", str(venv)], check=True
        )
    log(f"installing {' '.join(requirements)} into {venv}")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements], check=True)
    marker.write_text(" ".join(requirements))
    return python


def peer_version(python: Path, package: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "?"


def run_tool(tool: str, data_dir: Path, timeout_s: float) -> dict[str, Any]:
    """Run one tool's workload in a fresh process and return its result (or the error)."""
    from _common import parse_result

    if tool in PEERS:
        python, script, workload = ensure_venv(tool), BENCH_DIR / PEERS[tool][2], "drift"
    else:
        python, script, workload = Path(sys.executable), Path(__file__), tool
    env = {**os.environ, "PYTHONPATH": str(BENCH_DIR)}
    log(f"running {tool}")
    try:
        proc = subprocess.run(
            [str(python), str(script), workload, json.dumps({"data_dir": str(data_dir)})],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    result = parse_result(proc.stdout)
    if result is None:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:500]}
    return result


def summarize(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per peer: its time and RSS against Conveyor's, with the target."""
    ours = results.get("conveyor", {})
    rows = []
    for tool in ("evidently", "nannyml", "numpy"):
        theirs = results.get(tool)
        if not theirs or "error" in theirs or "error" in ours or not ours:
            continue
        ratio = theirs["seconds"] / ours["seconds"]
        rows.append(
            {
                "peer": tool,
                "speed_ratio": ratio,
                "target": TARGETS[tool],
                "passed": ratio >= TARGETS[tool] if tool != "numpy" else ratio > 1.0,
                "rss_ratio": ours["peak_rss_mb"] / theirs["peak_rss_mb"],
            }
        )
    return rows


def markdown(
    meta: dict[str, Any], results: dict[str, dict[str, Any]], rows: list[dict[str, Any]]
) -> str:
    names = {
        "conveyor": "Conveyor `detect_drift`",
        "numpy": "plain NumPy/SciPy script",
        "evidently": f"Evidently {meta['versions'].get('evidently', '')} DataDriftPreset",
        "nannyml": f"NannyML {meta['versions'].get('nannyml', '')} UnivariateDriftCalculator",
    }
    lines = [
        SECTION,
        "",
        f"{meta['rows']:,} reference x {meta['rows']:,} current rows, {NUMERIC} numeric + "
        f"{CATEGORICAL} categorical columns; {meta['date']}, {meta['machine']}; "
        f"command: `{meta['command']}`.",
        "",
        "| Tool | Time | Peak RSS | RSS after loading data | Drifted columns |",
        "|---|---|---|---|---|",
    ]
    for tool in TOOLS:
        r = results.get(tool)
        if r is None:
            continue
        if "error" in r:
            lines.append(f"| {names[tool]} | error: {r['error']} | | | |")
            continue
        lines.append(
            f"| {names[tool]} | {r['seconds']:.2f} s | {r['peak_rss_mb']:,.0f} MB | "
            f"{r['rss_after_load_mb']:,.0f} MB | {len(r['drifted'])} |"
        )
    lines += [
        "",
        "| Peer | Peer time / Conveyor time | Target | Result | Conveyor RSS / peer RSS |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        target = "> 1x" if row["peer"] == "numpy" else f"≥ {row['target']:.0f}x"
        rss = f"{row['rss_ratio']:.2f}" + (" (target ≤ 0.33)" if row["peer"] == "evidently" else "")
        lines.append(
            f"| {names[row['peer']]} | {row['speed_ratio']:.1f}x | {target} | "
            f"{'PASS' if row['passed'] else 'FAIL'} | {rss} |"
        )
    lines += [
        "",
        "- Data: num0-3 mean shift (+0.25 sd), num4 variance x1.5, cat0 label shift, cat1 a new "
        "category; the other 20 columns unchanged. Seeded; generated once and loaded by every "
        "tool in its own process (peak RSS = `ru_maxrss` of that process, data included).",
        "- Conveyor and Evidently use Evidently's automatic tests (> 1000 reference rows: "
        "normalised Wasserstein for numeric, Jensen-Shannon for categorical columns); NannyML "
        "its defaults (Jensen-Shannon), one chunk; the plain script PSI on 10 reference-quantile "
        "bins + `scipy.stats.ks_2samp` per numeric column, PSI + chi-square per categorical one.",
        "- Both sides have the same size here, so Conveyor's Wasserstein distance is the mean "
        "of |u(i) - v(i)| over the sorted samples; unequal sizes take the closed-form merge of "
        "the two quantile grids instead (about 35 ms more per 1M-row column on this machine).",
        "- Evidently 0.7 needs `pandas<3`; NannyML 0.13 needs `pandas<3` and `statsmodels` "
        "(imported, not declared); both are pinned in their virtualenvs.",
        "- Raw results: `benchmarks/results/drift.json`.",
        "",
        *crosscheck_lines(),
    ]
    return "\n".join(lines)


def crosscheck_lines() -> list[str]:
    """The latest ``crosscheck_evidently.py`` result, if it has been run."""
    path = BENCH_DIR / "results" / "crosscheck_evidently.json"
    if not path.exists():
        return []
    check = json.loads(path.read_text())
    scenarios = ", ".join(f"{k} {v}" for k, v in check["per_scenario"].items())
    return [
        "### Decisions cross-checked against Evidently",
        "",
        "| Columns compared | Same decision | Target | Result |",
        "|---|---|---|---|",
        f"| {check['columns_compared']} | {check['agreement']:.1%} | >= 99 % | "
        f"{'PASS' if check['passed'] else 'FAIL'} |",
        "",
        f"- Evidently {check['evidently_version']}; command: `{check['command']}`; per "
        f"scenario (agreeing/compared): {scenarios}. Sizes on both sides of the 1000-row rule; "
        "details and any disagreement in `benchmarks/results/crosscheck_evidently.json`.",
        "- Compared with Evidently's per-column `ValueDrift` decisions. In "
        f"{len(check.get('evidently_count_differs_from_its_columns', []))} data sets Evidently's "
        "own `DriftedColumnsCount` differs from its columns: its legacy dataset path drops "
        "+/-inf only in columns that also hold NaN, so a column with inf but no NaN is tested "
        "with the infs in it.",
        "",
    ]


def write_docs(text: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (see ``_docs``)."""
    from _docs import replace_section

    replace_section("drift", text, DOCS, legacy_title=SECTION)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k rows per side")
    parser.add_argument("--only", default=",".join(TOOLS), help="comma-separated tools")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per tool")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument(
        "--docs-only", action="store_true", help="rewrite the docs section from the last results"
    )
    args = parser.parse_args(argv)
    if args.docs_only:
        saved = json.loads(RESULTS.read_text())
        write_docs(markdown(saved["meta"], saved["results"], saved["summary"]))
        return
    rows = 100_000 if args.quick else args.rows
    tools = [t for t in args.only.split(",") if t]
    data_dir = generate(rows)
    results = {tool: run_tool(tool, data_dir, args.timeout) for tool in tools}
    meta = {
        "rows": rows,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "command": " ".join([".venv/bin/python benchmarks/drift.py", *argv]),
        "versions": {p: peer_version(ensure_venv(p), p) for p in PEERS if p in tools},
    }
    rows_summary = summarize(results)
    for tool, result in results.items():
        log(f"{tool}: {json.dumps(result)[:300]}")
    for row in rows_summary:
        log(
            f"{row['peer']}: {row['speed_ratio']:.1f}x Conveyor's time; "
            f"Conveyor's peak RSS is {row['rss_ratio']:.2f} of its"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"meta": meta, "results": results, "summary": rows_summary}, indent=2)
    )
    if not args.no_docs:
        write_docs(markdown(meta, results, rows_summary))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in WORKLOADS:
        from _common import run_main

        run_main(WORKLOADS)
    else:
        main(sys.argv[1:])
