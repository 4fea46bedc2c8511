"""Cross-check: Conveyor's per-column drift decisions against Evidently 0.7's DataDriftPreset.

Usage (from the repository root)::

    .venv/bin/python benchmarks/crosscheck_evidently.py

Generated data sets with known shifts (mean shift, variance change, new category,
missing-value burst, label shift, concept drift, and no shift), each at several reference and
current sizes on both sides of Evidently's 1000-row rule. Every data set has numeric columns
(continuous, few distinct values, binary) and categorical ones (multi-class, binary), so every
branch of the automatic test choice is exercised. Evidently runs in its own virtualenv
(``benchmarks/.venvs/evidently``); both tools get the same columns declared numerical and
categorical and use their automatic tests and default thresholds. Decisions must agree on
>= 99 % of columns; the result goes to ``benchmarks/results/crosscheck_evidently.json`` and is
printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from drift import BENCH_DIR, PEERS, WORK, ensure_venv, load_frames, peer_version, save_frames

from conveyor.monitoring.drift import detect_drift

RESULTS = BENCH_DIR / "results" / "crosscheck_evidently.json"
SIZES = [(150, 120), (600, 900), (1000, 400), (1001, 1500), (4000, 3000), (20000, 20000)]
SCENARIOS = [
    "none",
    "mean_shift",
    "variance",
    "new_category",
    "missing_burst",
    "label_shift",
    "concept",
]
TARGET_AGREEMENT = 0.99
LETTERS = np.array(["red", "green", "blue", "cyan", "gray"])


def _side(rng: np.random.Generator, rows: int, scenario: str, current: bool) -> dict[str, Any]:
    shift = current and scenario != "none"
    x1 = rng.normal(0.6 if shift and scenario == "mean_shift" else 0.0, 1.0, rows)
    x2 = rng.normal(0.0, 2.0 if shift and scenario == "variance" else 1.0, rows)
    x3 = rng.lognormal(0.0, 0.5, rows)
    if shift and scenario == "missing_burst":
        x3[rng.random(rows) < 0.4] = np.nan  # a burst of missing values, distribution intact
        x1[rng.random(rows) < 0.4] = np.inf
    few = rng.integers(0, 4, rows).astype(float)  # 4 distinct values: tested as categorical
    binary = (rng.random(rows) < 0.3).astype(float)
    weights = np.array([0.35, 0.25, 0.2, 0.2, 0.0])
    if shift and scenario == "new_category":
        weights = np.array([0.3, 0.2, 0.15, 0.15, 0.2])
    color = rng.choice(5, size=rows, p=weights)
    # Label: depends on x2; label shift changes its prior, concept drift its relation to x2.
    base = 0.5 if not (shift and scenario == "label_shift") else 0.8
    slope = -1.5 if shift and scenario == "concept" else 1.5
    probability = 1 / (1 + np.exp(-(slope * x2 + np.log(base / (1 - base)))))
    label = (rng.random(rows) < probability).astype(np.int8)
    prediction = (x2 > 0).astype(np.int8)  # a fixed model: its output moves only with x2
    return {
        "x_mean": x1,
        "x_scale": x2,
        "x_missing": x3,
        "few_values": few,
        "binary_num": binary,
        "color": (color.astype(np.int8), LETTERS),
        "label": (label, np.array(["no", "yes"])),
        "prediction": (prediction, np.array(["no", "yes"])),
    }


def generate_cases() -> list[dict[str, str]]:
    cases = []
    rng = np.random.default_rng(7_700)
    for scenario in SCENARIOS:
        for ref_rows, cur_rows in SIZES:
            name = f"{scenario}-{ref_rows}x{cur_rows}"
            path = WORK / "crosscheck" / name
            save_frames(
                path, _side(rng, ref_rows, scenario, False), _side(rng, cur_rows, scenario, True)
            )
            cases.append({"name": name, "data_dir": str(path)})
    return cases


def conveyor_decisions(case: dict[str, str]) -> dict[str, Any]:
    reference, current, numeric, categorical = load_frames(case["data_dir"])
    report = detect_drift(reference, current, numerical=numeric, categorical=categorical)
    return {
        c.column: {
            "stattest": c.stattest,
            "score": c.score,
            "threshold": c.threshold,
            "drifted": c.drifted,
        }
        for c in report.columns
    }


def evidently_decisions(cases: list[dict[str, str]]) -> dict[str, Any]:
    python = ensure_venv("evidently")
    script = BENCH_DIR / PEERS["evidently"][2]
    proc = subprocess.run(
        [str(python), str(script), "decisions", json.dumps({"cases": cases})],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(BENCH_DIR), "PATH": "/usr/bin:/bin"},
    )
    from _common import parse_result

    result = parse_result(proc.stdout)
    if result is None or "error" in result:
        sys.exit(f"Evidently failed: {proc.stderr[-2000:]}")
    return result


def main() -> None:
    cases = generate_cases()
    theirs = evidently_decisions(cases)
    rows, disagreements, count_mismatches = 0, [], []
    per_scenario: dict[str, list[int]] = {}
    for case in cases:
        ours = conveyor_decisions(case)
        evidently = theirs[case["name"]]
        if not evidently["count_matches"]:
            # Evidently's DriftedColumnsCount runs the legacy dataset path, which drops +/-inf
            # only in columns that also hold NaN, so a column with inf and no NaN is tested
            # with the infs there; its per-column ValueDrift (compared here) drops them.
            count_mismatches.append(case["name"])
        for column, mine in ours.items():
            other = evidently["columns"][column]
            rows += 1
            agree = mine["drifted"] == other["drifted"]
            tally = per_scenario.setdefault(case["name"].split("-")[0], [0, 0])
            tally[0] += agree
            tally[1] += 1
            if not agree:
                disagreements.append(
                    {"case": case["name"], "column": column, "conveyor": mine, "evidently": other}
                )
    agreement = 1 - len(disagreements) / rows
    summary = {
        "evidently_version": peer_version(ensure_venv("evidently"), "evidently"),
        "columns_compared": rows,
        "agreement": agreement,
        "target": TARGET_AGREEMENT,
        "passed": agreement >= TARGET_AGREEMENT,
        "per_scenario": {k: f"{a}/{n}" for k, (a, n) in per_scenario.items()},
        "evidently_count_differs_from_its_columns": count_mismatches,
        "disagreements": disagreements,
        "command": ".venv/bin/python benchmarks/crosscheck_evidently.py",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "disagreements"}, indent=2))
    if not summary["passed"]:
        sys.exit(1)
    for item in disagreements:
        print("disagreement:", json.dumps(item))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
