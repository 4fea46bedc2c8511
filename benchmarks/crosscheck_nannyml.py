"""Cross-check Conveyor's CBPE and DLE against NannyML's, on the same generated data, same run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/crosscheck_nannyml.py            # 20k reference, 50k analysis
    .venv/bin/python benchmarks/crosscheck_nannyml.py --quick    # 5k / 10k, under a minute

NannyML (``nannyml``, plus ``statsmodels``, which NannyML 0.13 imports without declaring it) is
installed into ``benchmarks/.venvs/nannyml`` on the first run. The data are generated here with
fixed seeds and written to one ``.npz`` file that both sides read; NannyML runs in a subprocess
with its own interpreter (``_peer_nannyml.py``), Conveyor in this process. Scenarios:

* ``cbpe-binary``: a logistic regression on a 5-feature logistic problem; the analysis
  chunks' first feature shifts from 0 to +1.5 standard deviations (covariate shift);
* ``cbpe-binary-cubed``: the same model's probabilities cubed (monotone, so ROC AUC is kept,
  but badly calibrated), so both libraries must detect it and fit isotonic calibration;
* ``cbpe-multiclass``: a 3-class softmax problem and a multinomial logistic regression under
  the same shift (one-vs-rest calibration, macro-averaged metrics);
* ``dle``: a linear regression on a nonlinear, heteroscedastic target under the same kind of
  shift; NannyML's nanny model is LightGBM, Conveyor's scikit-learn's histogram boosting.

Target (issue 6): CBPE estimates agree with NannyML's within 0.01 on every chunk. Results go to
``benchmarks/results/crosscheck_nannyml.json`` and a section at the end of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from _common import clock, parse_result
from sklearn.linear_model import LinearRegression, LogisticRegression
from threadpoolctl import threadpool_limits

from conveyor.monitoring.performance import CBPE, DLE, EstimatedMetric, MulticlassCBPE

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PEER_VENV = BENCH_DIR / ".venvs" / "nannyml"
PEER_REQUIREMENTS = ("nannyml", "statsmodels")
RESULTS = BENCH_DIR / "results" / "crosscheck_nannyml.json"
DOCS = REPO / "docs" / "benchmarks.md"
SECTION_TITLE = "## Monitoring: CBPE and DLE against NannyML (issue 6)"
CBPE_METRICS = ["roc_auc", "f1", "accuracy", "precision", "recall"]
DLE_METRICS = ["mae", "rmse"]
TARGET = 0.01
WEIGHTS = np.array([1.5, -1.0, 0.5, 0.0, 0.8])
SEED = 20_261_130


def log(message: str) -> None:
    """Print a progress line on stderr."""
    print(f"[crosscheck] {message}", file=sys.stderr, flush=True)


def peer_python() -> Path:
    """Return the peer virtualenv's interpreter."""
    return PEER_VENV / "bin" / "python"


def peer_version() -> str | None:
    """Return the peer's NannyML version, or None when it cannot be imported."""
    if not peer_python().exists():
        return None
    proc = subprocess.run(
        [str(peer_python()), "-c", "import nannyml; print(nannyml.__version__)"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"},
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_peer_venv() -> str:
    """Create ``benchmarks/.venvs/nannyml`` with NannyML unless it already imports."""
    version = peer_version()
    if version:
        log(f"NannyML {version} found in {PEER_VENV}")
        return version
    if not peer_python().exists():
        log(f"creating {PEER_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    log(f"installing {' '.join(PEER_REQUIREMENTS)} into {PEER_VENV} (a few minutes)")
    subprocess.run(
        [str(peer_python()), "-m", "pip", "install", "--quiet", *PEER_REQUIREMENTS], check=True
    )
    version = peer_version()
    if not version:
        msg = f"NannyML did not install into {PEER_VENV}"
        raise RuntimeError(msg)
    return version


def run_peer(workload: str, params: dict[str, Any], threads: int) -> dict[str, Any]:
    """Run one NannyML workload in the peer interpreter (``threads`` OpenMP threads)."""
    proc = subprocess.run(
        [str(peer_python()), str(BENCH_DIR / "_peer_nannyml.py"), workload, json.dumps(params)],
        capture_output=True,
        text=True,
        check=False,
        cwd=BENCH_DIR,
        env={**os.environ, "NML_DISABLE_USAGE_LOGGING": "1", "OMP_NUM_THREADS": str(threads)},
    )
    result = parse_result(proc.stdout)
    if proc.returncode != 0 or result is None or "error" in result:
        msg = f"NannyML {workload} failed:\n{proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    return result


# --- data -------------------------------------------------------------------------------------


def _shifted(rng: np.random.Generator, n: int, chunk: int, top: float) -> np.ndarray:
    """Return n x 5 normal features whose first column shifts linearly, chunk by chunk."""
    features = rng.normal(size=(n, len(WEIGHTS)))
    chunks = max(n // chunk, 1)
    features[:, 0] += top * np.minimum(np.arange(n) // chunk, chunks - 1) / max(chunks - 1, 1)
    return features


def classification_data(n_ref: int, n_ana: int, chunk: int, *, cube: bool) -> dict[str, Any]:
    """Return reference and analysis arrays of a logistic model under covariate shift."""
    rng = np.random.default_rng(SEED)

    def labels(features: np.ndarray) -> np.ndarray:
        logit = features @ WEIGHTS + 0.3
        return (rng.random(len(features)) < 1 / (1 + np.exp(-logit))).astype(np.int64)

    train = rng.normal(size=(5000, len(WEIGHTS)))
    model = LogisticRegression().fit(train, labels(train))
    out: dict[str, Any] = {}
    for prefix, features in (
        ("reference", rng.normal(size=(n_ref, len(WEIGHTS)))),
        ("analysis", _shifted(rng, n_ana, chunk, 1.5)),
    ):
        proba = model.predict_proba(features)[:, 1]
        out[f"{prefix}_y_true"] = labels(features)
        out[f"{prefix}_y_pred"] = (proba >= 0.5).astype(np.int64)
        out[f"{prefix}_y_pred_proba"] = proba**3 if cube else proba
    return out


def multiclass_data(n_ref: int, n_ana: int, chunk: int) -> dict[str, Any]:
    """Return reference and analysis arrays of a 3-class softmax model under covariate shift."""
    rng = np.random.default_rng(SEED + 2)
    weights = rng.normal(size=(len(WEIGHTS), 3))

    def labels(features: np.ndarray) -> np.ndarray:
        logits = features @ weights
        probability = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return (rng.random((len(features), 1)) > probability.cumsum(axis=1)).sum(axis=1)

    train = rng.normal(size=(5000, len(WEIGHTS)))
    model = LogisticRegression().fit(train, labels(train))
    out: dict[str, Any] = {}
    for prefix, features in (
        ("reference", rng.normal(size=(n_ref, len(WEIGHTS)))),
        ("analysis", _shifted(rng, n_ana, chunk, 1.5)),
    ):
        out[f"{prefix}_y_true"] = labels(features)
        out[f"{prefix}_y_pred"] = model.predict(features)
        out[f"{prefix}_y_pred_proba"] = model.predict_proba(features)
    return out


def regression_data(n_ref: int, n_ana: int, chunk: int) -> dict[str, Any]:
    """Return reference and analysis arrays of a linear model on a nonlinear target."""
    rng = np.random.default_rng(SEED + 1)

    def target(features: np.ndarray) -> np.ndarray:
        signal = features @ WEIGHTS + 0.5 * features[:, 1] ** 2
        return signal + rng.normal(size=len(features)) * (0.3 + 0.5 * np.abs(features[:, 0]))

    train = rng.normal(size=(5000, len(WEIGHTS)))
    model = LinearRegression().fit(train, target(train))
    out: dict[str, Any] = {}
    for prefix, features in (
        ("reference", rng.normal(size=(n_ref, len(WEIGHTS)))),
        ("analysis", _shifted(rng, n_ana, chunk, 1.5)),
    ):
        out[f"{prefix}_features"] = features
        out[f"{prefix}_y_pred"] = model.predict(features)
        out[f"{prefix}_y_true"] = target(features)
    return out


# --- Conveyor side ----------------------------------------------------------------------------


def _by_metric(records: list[EstimatedMetric]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault(r.metric, []).append(
            {
                "chunk": r.chunk.index,
                "value": r.value,
                "sampling_error": r.sampling_error,
                "lower_confidence_boundary": r.lower,
                "upper_confidence_boundary": r.upper,
                "lower_threshold": r.lower_threshold,
                "upper_threshold": r.upper_threshold,
                "realized": r.realized,
                "alert": r.is_alert,
            }
        )
    return out


def conveyor_cbpe(data: dict[str, Any], chunk: int) -> dict[str, Any]:
    """Fit and estimate with Conveyor's CBPE, timed."""
    estimator = CBPE(metrics=CBPE_METRICS, chunk_size=chunk)
    with clock() as timer:
        estimator.fit(
            y_true=data["reference_y_true"],
            y_pred_proba=data["reference_y_pred_proba"],
            y_pred=data["reference_y_pred"],
        )
        records = estimator.estimate(
            y_true=data["analysis_y_true"],
            y_pred_proba=data["analysis_y_pred_proba"],
            y_pred=data["analysis_y_pred"],
        )
    return {
        "seconds": timer.seconds,
        "needs_calibration": estimator.needs_calibration_,
        "metrics": _by_metric(records),
    }


def conveyor_cbpe_multiclass(data: dict[str, Any], chunk: int) -> dict[str, Any]:
    """Fit and estimate with Conveyor's MulticlassCBPE, timed."""
    estimator = MulticlassCBPE(metrics=CBPE_METRICS, chunk_size=chunk)
    with clock() as timer:
        estimator.fit(
            y_true=data["reference_y_true"],
            y_pred_proba=data["reference_y_pred_proba"],
            y_pred=data["reference_y_pred"],
        )
        records = estimator.estimate(
            y_true=data["analysis_y_true"],
            y_pred_proba=data["analysis_y_pred_proba"],
            y_pred=data["analysis_y_pred"],
        )
    return {"seconds": timer.seconds, "metrics": _by_metric(records)}


def conveyor_dle(data: dict[str, Any], chunk: int) -> dict[str, Any]:
    """Fit and estimate with Conveyor's DLE, timed."""
    estimator = DLE(metrics=DLE_METRICS, chunk_size=chunk)
    with clock() as timer:
        estimator.fit(
            features=data["reference_features"],
            y_pred=data["reference_y_pred"],
            y_true=data["reference_y_true"],
        )
        records = estimator.estimate(
            features=data["analysis_features"],
            y_pred=data["analysis_y_pred"],
            y_true=data["analysis_y_true"],
        )
    return {"seconds": timer.seconds, "metrics": _by_metric(records)}


# --- comparison -------------------------------------------------------------------------------

FIELDS = ("value", "sampling_error", "lower_threshold", "upper_threshold", "realized")


def _max_gap(ours: list[dict[str, Any]], theirs: list[dict[str, Any]], field: str) -> float | None:
    gaps = [
        abs(a[field] - b[field])
        for a, b in zip(ours, theirs, strict=True)
        if a.get(field) is not None and b.get(field) is not None
    ]
    return max(gaps) if gaps else None


def _tracking_error(rows: list[dict[str, Any]]) -> float:
    return max(abs(r["value"] - r["realized"]) for r in rows)


def compare(ours: dict[str, Any], theirs: dict[str, Any], metrics: list[str]) -> dict[str, Any]:
    """Return, per metric, the largest per-chunk gap of each field, and the alert agreement."""
    out: dict[str, Any] = {}
    for metric in metrics:
        a, b = ours["metrics"][metric], theirs["metrics"][metric]
        if len(a) != len(b):
            msg = f"{metric}: Conveyor has {len(a)} chunks, NannyML {len(b)}"
            raise RuntimeError(msg)
        out[metric] = {
            "chunks": len(a),
            **{f"max_abs_diff_{field}": _max_gap(a, b, field) for field in FIELDS},
            "max_rel_diff_value": max(
                abs(x["value"] - y["value"]) / abs(y["value"]) for x, y in zip(a, b, strict=True)
            ),
            "alerts_agree": sum(x["alert"] == y["alert"] for x, y in zip(a, b, strict=True)),
            "conveyor_max_abs_error_vs_realized": _tracking_error(a),
            "nannyml_max_abs_error_vs_realized": _tracking_error(b),
        }
    return out


@dataclass(frozen=True)
class Scenario:
    """One comparison: how to make the data, which peer workload and Conveyor call to run."""

    make: Callable[[int, int, int], dict[str, Any]]
    peer_workload: str
    conveyor: Callable[[dict[str, Any], int], dict[str, Any]]
    metrics: list[str]
    has_target: bool


SCENARIOS = {
    "cbpe-binary": Scenario(
        lambda r, a, c: classification_data(r, a, c, cube=False),
        "cbpe",
        conveyor_cbpe,
        CBPE_METRICS,
        True,
    ),
    "cbpe-binary-cubed": Scenario(
        lambda r, a, c: classification_data(r, a, c, cube=True),
        "cbpe",
        conveyor_cbpe,
        CBPE_METRICS,
        True,
    ),
    "cbpe-multiclass": Scenario(
        multiclass_data, "cbpe_multiclass", conveyor_cbpe_multiclass, CBPE_METRICS, True
    ),
    "dle": Scenario(regression_data, "dle", conveyor_dle, DLE_METRICS, False),
}


def run_scenario(
    name: str, sizes: tuple[int, int, int], workdir: Path, threads: int
) -> dict[str, Any]:
    """Write the scenario's data, run both sides on it with ``threads`` threads, and compare."""
    scenario = SCENARIOS[name]
    n_ref, n_ana, chunk = sizes
    data = scenario.make(n_ref, n_ana, chunk)
    path = workdir / f"{name}.npz"
    np.savez(path, **data)
    log(f"{name}: NannyML")
    params = {"data": str(path), "chunk_size": chunk, "metrics": scenario.metrics}
    theirs = run_peer(scenario.peer_workload, params, threads)
    log(f"{name}: Conveyor")
    with threadpool_limits(threads):
        ours = scenario.conveyor(data, chunk)
    result = {
        "rows": {"reference": n_ref, "analysis": n_ana},
        "chunk_size": chunk,
        "has_target": scenario.has_target,
        "conveyor_seconds": ours["seconds"],
        "nannyml_seconds": theirs["seconds"],
        "comparison": compare(ours, theirs, scenario.metrics),
        "conveyor": ours["metrics"],
        "nannyml": theirs["metrics"],
    }
    if "needs_calibration" in ours:
        result["needs_calibration"] = {
            "conveyor": ours["needs_calibration"],
            "nannyml": theirs["needs_calibration"],
        }
    return result


# --- report -----------------------------------------------------------------------------------


def machine_facts(nannyml_version: str) -> dict[str, Any]:
    """Return what the results were measured on."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "nannyml": nannyml_version,
        "scikit_learn": metadata.version("scikit-learn"),
        "git": commit or None,
    }


def _num(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}" if x and abs(x) < 1e-3 else f"{x:.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    """Render the docs section."""
    m = report["machine"]
    lines = [
        SECTION_TITLE,
        "",
        f"Run {report['date']} on {m['cpu']} ({m['cores']} cores), Python {m['python']}, "
        f"NannyML {m['nannyml']} in `benchmarks/.venvs/nannyml`, scikit-learn {m['scikit_learn']}, "
        f"git {m['git']}. Command: `{report['command']}`.",
        "",
        "Largest per-chunk gap between Conveyor and NannyML (same arrays, same chunks); "
        f"target for CBPE estimates: ≤ {TARGET}.",
        "",
        "| Scenario | Metric | Chunks | Δ estimate | Δ sampling error | Δ thresholds "
        "| Alerts agree | Est. - realized (Conveyor / NannyML) | Result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, scenario in report["scenarios"].items():
        for metric, c in scenario["comparison"].items():
            thresholds = max(
                x
                for x in (c["max_abs_diff_lower_threshold"], c["max_abs_diff_upper_threshold"])
                if x is not None
            )
            is_cbpe = name.startswith("cbpe")
            verdict = (
                ("PASS" if c["max_abs_diff_value"] <= TARGET else "FAIL")
                if is_cbpe
                else "(no target)"
            )
            lines.append(
                f"| {name} | {metric} | {c['chunks']} | {_num(c['max_abs_diff_value'])} "
                f"| {_num(c['max_abs_diff_sampling_error'])} | {_num(thresholds)} "
                f"| {c['alerts_agree']}/{c['chunks']} "
                f"| {_num(c['conveyor_max_abs_error_vs_realized'])} / "
                f"{_num(c['nannyml_max_abs_error_vs_realized'])} | {verdict} |"
            )
    lines += [
        "",
        "| Scenario | Rows (reference / analysis) | Chunk | Conveyor fit + estimate "
        "| NannyML fit + estimate | Ratio (NannyML ÷ Conveyor) |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in report["scenarios"].items():
        ratio = (
            s["nannyml_seconds"] / s["conveyor_seconds"] if s["conveyor_seconds"] else float("nan")
        )
        lines.append(
            f"| {name} | {s['rows']['reference']:,} / {s['rows']['analysis']:,} "
            f"| {s['chunk_size']:,} | {s['conveyor_seconds']:.3f} s "
            f"| {s['nannyml_seconds']:.3f} s | {ratio:.1f}x |"
        )
    calib = {
        n: s["needs_calibration"]
        for n, s in report["scenarios"].items()
        if "needs_calibration" in s
    }
    lines += [
        "",
        "- Data: 5 standard-normal features; the analysis chunks' first feature shifts linearly "
        "from 0 to +1.5 (covariate shift). Classification: logistic labels, a scikit-learn "
        "`LogisticRegression`; `cbpe-binary-cubed` cubes its probabilities; `cbpe-multiclass` "
        "draws 3 softmax classes. Regression: a `LinearRegression` on a target with a quadratic "
        "term and noise growing with |x0|.",
        "- Calibration decided (Conveyor / NannyML): "
        + ", ".join(f"{n} {v['conveyor']} / {v['nannyml']}" for n, v in calib.items())
        + ".",
        "- CBPE follows NannyML's formulas; remaining gaps come from NannyML rounding its expected "
        "TP/FP counts to 5 decimals in ROC AUC and from its ROC AUC sampling error dropping a "
        "positive ranked first. Isotonic calibration is invariant to a monotone change of the "
        "scores, so when both binary scenarios calibrate their estimates coincide. "
        "DLE has no agreement target: NannyML's nanny model is LightGBM, "
        "Conveyor's scikit-learn's `HistGradientBoostingRegressor` with LightGBM's default "
        "capacity, so the estimates differ by the two learners' fit; both are compared with the "
        "realized error in the 'Est. - realized' column.",
        f"- Timings: fit + estimate, nanny models included, both sides limited to "
        f"{report['threads']} OpenMP thread(s) (`--threads`; on this shared machine more threads "
        "only add contention noise). NannyML's time is measured inside its own process, after "
        "its import.",
        "- Raw per-chunk values of both sides: `benchmarks/results/crosscheck_nannyml.json`.",
        "",
    ]
    return "\n".join(lines)


def write_docs(section: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (see ``_docs``)."""
    from _docs import replace_section

    replace_section("crosscheck-nannyml", section, DOCS, legacy_title=SECTION_TITLE)


def main() -> None:
    """Run every scenario on both sides, write the JSON results and the docs section."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="5k reference / 10k analysis rows")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OpenMP threads for both sides (default 1: on a shared machine, oversubscribed "
        "OpenMP threads make boosting timings noise)",
    )
    args = parser.parse_args()
    sizes = (5_000, 10_000, 1_000) if args.quick else (20_000, 50_000, 5_000)
    version = ensure_peer_venv()
    workdir = Path(tempfile.mkdtemp(prefix="crosscheck-nannyml-"))
    try:
        scenarios = {name: run_scenario(name, sizes, workdir, args.threads) for name in SCENARIOS}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    command = ".venv/bin/python benchmarks/crosscheck_nannyml.py" + (
        " --quick" if args.quick else ""
    )
    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "machine": machine_facts(version),
        "target_max_abs_diff_cbpe": TARGET,
        "threads": args.threads,
        "scenarios": scenarios,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    section = markdown(report)
    print(section)
    if not args.no_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
